"""vidpose.io.jsonfile: one JSON reader whose errors name the file and the fault."""

import pytest

from vidpose.errors import InputError
from vidpose.io.jsonfile import parse_json, read_json


def test_reads_a_file(tmp_path):
    (tmp_path / "a.json").write_text('{"x": [1, 2.5, null], "é": "ü"}', encoding="utf-8")
    assert read_json(tmp_path / "a.json") == {"x": [1, 2.5, None], "é": "ü"}


@pytest.mark.parametrize("data, fault", [
    (b'{"frames": [1, 2', r"not valid JSON \(Expecting .* at line 1, column 17\)"),  # truncated
    (b"", r"not valid JSON \(Expecting value at line 1, column 1\)"),
    (b'{"a": "\xff"}', r"not UTF-8 text \(invalid start byte at byte 7\)"),
    (b"[" * 100000 + b"]" * 100000, r"not valid JSON \(nested too deeply\)"),
    (b'{"a": 1}\n{"b": 2}', r"not valid JSON \(Extra data at line 2, column 1\)"),
])
def test_faults_name_file_and_fault(tmp_path, data, fault):
    p = tmp_path / "bad.json"
    p.write_bytes(data)
    with pytest.raises(InputError, match=r"bad\.json: " + fault):
        read_json(p)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputError, match=r"nope\.json: cannot read \(No such file or directory\)"):
        read_json(tmp_path / "nope.json")
    with pytest.raises(InputError, match=str(tmp_path).replace(".", r"\.") + r": cannot read \(a folder, not a file\)"):
        read_json(tmp_path)


def test_parse_names_the_source():
    with pytest.raises(InputError, match=r"clip\.txt: not valid JSON"):
        parse_json("{", "clip.txt")
    assert parse_json(b"[1]", "x") == [1]
