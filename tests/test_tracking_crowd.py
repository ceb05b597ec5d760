"""Tracking in a crowd: a person hidden behind another for several frames comes back with their own id."""

import numpy as np

from vidpose.tracking import PoseTracker, TrackerConfig
from vidpose.types import PersonPose

# A standing person 40 px wide, 100 px tall, as COCO-17 offsets from the box centre.
_TEMPLATE = np.array([
    [0, -45], [-3, -47], [3, -47], [-6, -45], [6, -45], [-12, -30], [12, -30], [-16, -10], [16, -10],
    [-18, 8], [18, 8], [-8, 5], [8, 5], [-8, 25], [8, 25], [-8, 48], [8, 48],
], float)


def _person(cx: float, cy: float = 100.0, scale: float = 1.0) -> PersonPose:
    kp = np.concatenate([_TEMPLATE * scale + [cx, cy], np.full((17, 1), 0.9)], axis=1)
    return PersonPose(keypoints=kp, bbox=np.array([cx - 20 * scale, cy - 50 * scale, cx + 20 * scale, cy + 50 * scale]),
                      score=0.9)


def _crossing(tracker: PoseTracker, hidden: range, frames: int = 40) -> tuple[list, list]:
    """A walks right in front; B walks left behind A (a little smaller, a little higher) and is not
    detected in the ``hidden`` frames, when A covers B."""
    ids_a, ids_b = [], []
    for f in range(frames):
        a = _person(60 + 6 * f)
        b = _person(300 - 6 * f, 96.0, 0.9)
        people = [a] if f in hidden else [a, b]
        tracker.update(f, people)
        ids_a.append(a.track_id)
        if f not in hidden:
            ids_b.append(b.track_id)
    return ids_a, ids_b


def test_a_person_hidden_behind_another_for_eight_frames_keeps_the_id():
    ids_a, ids_b = _crossing(PoseTracker("coco17"), range(16, 24))  # A and B meet at frame 20
    assert len(set(ids_a)) == 1 and len(set(ids_b)) == 1 and ids_a[0] != ids_b[0]


def test_the_reappearing_person_is_not_taken_by_the_occluder_right_beside_them():
    # B reappears only 24 px from A; motion (B's own velocity) decides, not proximity to A.
    ids_a, ids_b = _crossing(PoseTracker("coco17", TrackerConfig(max_age=30)), range(17, 22))
    assert ids_b[-1] == ids_b[0] and ids_a[-1] == ids_a[0] and ids_a[0] != ids_b[0]


def test_a_person_who_stopped_while_hidden_is_recovered_where_they_were_last_seen():
    # B walks left, is hidden behind a standing A for 8 frames, during which B stops; B reappears
    # where B was last seen, not where B's velocity would have taken them.
    tr = PoseTracker("coco17")
    ids_b = []
    for f in range(30):
        a = _person(150)
        x = 300 - 8 * min(f, 16)
        people = [a] if 16 <= f < 24 else [a, _person(x, 96.0, 0.9)]
        tr.update(f, people)
        if len(people) == 2:
            ids_b.append(people[1].track_id)
    assert len(set(ids_b)) == 1 and ids_b[0] != a.track_id
