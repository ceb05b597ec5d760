"""The ``out_folder`` fixture: a synthetic output folder of vidpose run (see report_folders.py)."""

import pytest
from report_folders import write_output_folder


@pytest.fixture
def out_folder(tmp_path):
    return write_output_folder(tmp_path / "out")
