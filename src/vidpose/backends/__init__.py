"""Frame estimators: image in, people with keypoints out.

A backend turns one RGB frame into a list of :class:`vidpose.types.PersonPose`
in its native skeleton. It may keep state between frames (ROI tracking). The
default is BlazePose (detector + landmark model) run with LiteRT
(:mod:`~vidpose.backends.blazepose`); :mod:`~vidpose.backends.topdown` runs a
trained 2D model, handed to it already loaded, on the person detector's crops.
"""
