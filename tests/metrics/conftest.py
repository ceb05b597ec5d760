"""Shared fixtures for the metrics tests: small inputs in the real file formats."""

import numpy as np
import pytest


def make_coco(rng, num_images=4, num_joints=17, per_image=3):
    """A small COCO keypoints GT dict and a noisy results list."""
    images, anns, res = [], [], []
    for i in range(num_images):
        images.append({"id": 100 + i, "width": 640, "height": 480, "file_name": f"{i}.jpg"})
        for _ in range(per_image):
            c = rng.uniform(100, 500, 2)
            kp = np.c_[c + rng.normal(0, 40, (num_joints, 2)), rng.choice([0, 1, 2], num_joints, p=[.2, .2, .6])]
            x0, y0 = kp[:, :2].min(0)
            x1, y1 = kp[:, :2].max(0)
            area = float(rng.uniform(0.3, 1.0) * (x1 - x0) * (y1 - y0))
            anns.append({"id": len(anns) + 1, "image_id": 100 + i, "category_id": 1, "iscrowd": 0,
                         "bbox": [x0, y0, x1 - x0, y1 - y0], "area": area, "keypoints": kp.ravel().tolist(),
                         "num_keypoints": int((kp[:, 2] > 0).sum())})
            if rng.uniform() < 0.85:
                pk = kp[:, :2] + rng.normal(0, rng.uniform(1, 15), (num_joints, 2))
                res.append({"image_id": 100 + i, "category_id": 1, "score": float(rng.uniform(0.1, 1)),
                            "keypoints": np.c_[pk, np.ones(num_joints)].ravel().tolist()})
        # a false positive
        fp = rng.uniform(0, 600, (num_joints, 2))
        res.append({"image_id": 100 + i, "category_id": 1, "score": float(rng.uniform(0, 1)),
                    "keypoints": np.c_[fp, np.ones(num_joints)].ravel().tolist()})
    gt = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}
    return gt, res



@pytest.fixture
def coco_pair():
    """Factory: ``coco_pair(rng, num_images=4, num_joints=17, per_image=3) -> (gt dict, results list)``."""
    return make_coco
