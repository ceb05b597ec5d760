"""Readers for the on-disk formats of standard pose datasets.

Each returns the containers of :mod:`vidpose.data.annotations` (``PoseDataset`` for
2D, a list of ``Sequence3D`` for 3D), converts visibility to COCO 0/1/2, keeps
the dataset's own keypoint order and raises :class:`vidpose.errors.InputError`
naming the file, the field and the fault for malformed input. See
docs/datasets.md for where to get each dataset and the expected layout.
"""

from vidpose.data.annotations import Sequence3D
from vidpose.data.readers.coco import read_coco
from vidpose.data.readers.hie import read_hie
from vidpose.data.readers.jhmdb import JHMDB15_KEYPOINTS, read_jhmdb
from vidpose.data.readers.lsp import LSP14_KEYPOINTS, read_lsp
from vidpose.data.readers.mpi_inf_3dhp import (
    MPI_INF_3DHP17_KEYPOINTS,
    MPI_INF_3DHP28_KEYPOINTS,
    MPI_INF_3DHP_TEST_JOINTS,
    read_mpi_inf_3dhp,
    read_mpi_inf_3dhp_test,
)
from vidpose.data.readers.mpii import MPII16_KEYPOINTS, read_mpii_json, read_mpii_mat
from vidpose.data.readers.penn_action import PENN13_KEYPOINTS, read_penn_action
from vidpose.data.readers.posetrack import POSETRACK17_KEYPOINTS, read_posetrack18
from vidpose.data.readers.videopose3d import (
    H36M17_KEYPOINTS,
    H36M_CAMERA_IDS,
    H36M_KEPT_JOINTS,
    H36M_TEST_SUBJECTS,
    H36M_TRAIN_SUBJECTS,
    HUMANEVA15_KEYPOINTS,
    HUMANEVA_CAMERA_IDS,
    HUMANEVA_TEST_SUBJECTS,
    HUMANEVA_TRAIN_SUBJECTS,
    read_h36m_npz,
    read_humaneva_npz,
)

__all__ = [
    "Sequence3D",
    "read_coco",
    "read_mpii_json",
    "read_mpii_mat",
    "read_lsp",
    "read_penn_action",
    "read_jhmdb",
    "read_posetrack18",
    "read_h36m_npz",
    "read_humaneva_npz",
    "read_mpi_inf_3dhp",
    "read_mpi_inf_3dhp_test",
    "read_hie",
    "MPII16_KEYPOINTS",
    "LSP14_KEYPOINTS",
    "PENN13_KEYPOINTS",
    "JHMDB15_KEYPOINTS",
    "POSETRACK17_KEYPOINTS",
    "H36M17_KEYPOINTS",
    "H36M_KEPT_JOINTS",
    "H36M_CAMERA_IDS",
    "H36M_TRAIN_SUBJECTS",
    "H36M_TEST_SUBJECTS",
    "HUMANEVA15_KEYPOINTS",
    "HUMANEVA_CAMERA_IDS",
    "HUMANEVA_TRAIN_SUBJECTS",
    "HUMANEVA_TEST_SUBJECTS",
    "MPI_INF_3DHP28_KEYPOINTS",
    "MPI_INF_3DHP17_KEYPOINTS",
    "MPI_INF_3DHP_TEST_JOINTS",
]
