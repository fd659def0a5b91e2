"""Swift JSONEncoder's pretty, sorted output: layout, escapes and Swift's number descriptions."""

from __future__ import annotations

import json

import numpy as np
import pytest
from generators.takes import make_take

from posekit.io import swift_json
from posekit.io.swift_json import Float32, dumps, format_double, format_float32
from posekit.io.take_writer import frames_json
from posekit.io.takes import JOINT_NAMES


def test_layout_and_escapes():
    text = dumps({"b": [1, 2.5], "a": {}, "c": [], "s": 'a/b"\\\n\t\x01é', "t": True, "n": None})
    assert text == (
        '{\n  "a" : {\n\n  },\n  "b" : [\n    1,\n    2.5\n  ],\n  "c" : [\n\n  ],\n'
        '  "n" : null,\n  "s" : "a\\/b\\"\\\\\\n\\t\\u0001é",\n  "t" : true\n}'
    )
    assert json.loads(text)["s"] == 'a/b"\\\n\t\x01é'


def test_keys_sorted_by_utf8_bytes():
    assert list(json.loads(dumps({"b": 1, "B": 2, "a": 3, "é": 4}))) == ["B", "a", "b", "é"]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.1, "0.1"), (1.0, "1"), (-0.0, "-0"), (0.0, "0"), (1e-5, "1e-05"), (1.5e-5, "1.5e-05"), (1e-4, "0.0001"),
        (0.00012, "0.00012"), (16777216.0, "16777216"), (16777218.0, "1.6777218e+07"), (3e10, "3e+10"),
        (1 / 3, "0.33333334"), (123.456, "123.456"), (-2.5e-7, "-2.5e-07"),
    ],
)  # fmt: skip
def test_float32_descriptions(value, text):
    assert format_float32([value]) == [text]
    assert dumps(Float32(value)) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(757382400.5, "757382400.5"), (1.0, "1"), (0.1, "0.1"), (1e-5, "1e-05"), (1e16, "1e+16"),
     (2.0**53, "9007199254740992"), (2.0**53 + 2, "9.007199254740994e+15"), (123456789012.0, "123456789012")],
)  # fmt: skip
def test_double_descriptions(value, text):
    assert format_double(value) == text


def test_non_finite_become_null():
    assert format_float32([np.nan, np.inf]) == [None, None] and format_double(float("nan")) is None
    assert dumps([float("nan"), Float32("inf")]) == "[\n  null,\n  null\n]"


def test_float32_texts_read_back_exactly():
    rng = np.random.default_rng(0)
    values = (rng.normal(size=2000) * 10.0 ** rng.integers(-9, 12, 2000)).astype(np.float32)
    texts = format_float32(values)
    assert np.array_equal(np.array([float(t) for t in texts], dtype=np.float32), values)
    assert all(("e" in t) == (abs(float(v)) > 2**24 or abs(float(t)) < 1e-4) for t, v in zip(texts, values))


def test_frames_json_equals_the_generic_encoder():
    take = make_take(num_frames=3)
    frames = np.zeros(3, [("timestamp", "<f8"), ("joints", "<f4", (19, 10))])
    frames["timestamp"] = take.timestamps
    frames["joints"] = take.joint_values()
    frames["joints"][0, 0, :3] = [1e-5, 3e10, -0.0]
    meta = dict(take.meta)
    doc = {
        "frames": [
            {
                "joints": [
                    {
                        "camera3D": [Float32(x) for x in v[0:3]],
                        "depthConfidence": Float32(v[9]),
                        "joint": name,
                        "keypoint2D": [Float32(x) for x in v[6:8]],
                        "playback3D": [Float32(x) for x in v[3:6]],
                        "score2D": Float32(v[8]),
                    }  # fmt: skip
                    for name, v in zip(JOINT_NAMES, f["joints"].tolist())
                ],
                "timestamp": float(f["timestamp"]),
            }
            for f in frames
        ],
        "meta": {**meta, "minKeypointScore": Float32(meta["minKeypointScore"])},
    }
    assert frames_json(frames, meta).decode() == swift_json.dumps(doc)
    assert frames_json(frames[:0], meta).decode().startswith('{\n  "frames" : [\n\n  ],\n  "meta" : {\n')
