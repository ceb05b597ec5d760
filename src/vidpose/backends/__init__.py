"""Pretrained frame estimators: image in, people with keypoints out.

A backend turns one RGB frame into a list of :class:`vidpose.pipeline.types.PersonPose`
in its native skeleton. It may keep state between frames (ROI tracking). The
default is BlazePose (detector + landmark model) run with LiteRT.
"""
