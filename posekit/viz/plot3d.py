"""Interactive 3D skeletons as Plotly figures: one image's people, or an animated sequence.

Input 3D is in the library's camera frame (x right, y down, z forward, metres; :mod:`posekit.coords`). The
figures show it upright: display axes are ``(x, z, -y)`` = (right, depth, up), a rotation (no mirror), with
Plotly's vertical axis up. That conversion happens here, at the display edge, and nowhere else.

What the figures show:

* bones coloured by body part (:meth:`Skeleton.edge_colors`), joints in a distinct colour per person
  (:func:`posekit.viz.drawing.track_color_rgb`), one legend entry per person;
* the joint's name, person and coordinates on hover;
* equal scales on the three axes (a cube scene with equal ranges), a floor under the lowest joint, and a
  camera that starts on the camera's side, in front of the person, looking at them;
* for sequences, animation frames with play/pause and a slider. Frames are subsampled evenly to at most
  ``max_frames`` and at most ``max_joints`` joints in all, which bounds the payload a browser has to animate;
  :func:`subsample` gives the indices shown.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import plotly.graph_objects as go

from posekit.poses import Poses
from posekit.sequence import PoseSequence
from posekit.skeletons import Skeleton
from posekit.viz.drawing import track_color_rgb

AXIS_TITLES = ("x: right (m)", "z: depth (m)", "−y: up (m)")
BACKGROUND = "#1f2430"  # dark, so that white face keypoints stay visible
FLOOR_COLOR = "#8a93a6"
SMALL_PARTS = ("face", "left_hand", "right_hand")
HEIGHT = 560
MESSAGE_HEIGHT = 90
CONTROLS = 0.12
"""Bottom share of an animated figure kept for its play/pause buttons and slider, below the scene."""


def to_display(points: np.ndarray) -> np.ndarray:
    """Camera frame (x right, y down, z forward) -> display axes (x right, z depth, -y up).

    Args:
        points: (..., 3) metres.

    Returns:
        (..., 3) metres; a proper rotation, so left and right stay where they are.
    """
    return np.stack([points[..., 0], points[..., 2], -points[..., 1]], axis=-1)


def subsample(num_frames: int, max_frames: int) -> np.ndarray:
    """Indices of at most ``max_frames`` frames spread evenly over ``num_frames`` (first and last kept)."""
    if num_frames <= max_frames:
        return np.arange(num_frames)
    return np.unique(np.round(np.linspace(0, num_frames - 1, max(max_frames, 1))).astype(int))


def message_figure(text: str) -> go.Figure:
    """An empty 3D-plot placeholder that says why there is nothing to show."""
    fig = go.Figure()
    fig.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font={"size": 14, "color": "#e8eaf0"})  # fmt: skip
    fig.update_layout(
        paper_bgcolor=BACKGROUND,
        plot_bgcolor=BACKGROUND,
        xaxis={"visible": False},
        yaxis={"visible": False},
        height=MESSAGE_HEIGHT,  # one line of text: no tall empty panel
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    return fig


def pose_figure(poses: Poses, keypoint_threshold: float = 0.3, title: str | None = None) -> go.Figure:
    """The 3D skeletons of one image's people.

    Args:
        poses: N people with ``keypoints_3d`` (N, K, 3) camera-frame metres; without 3D, or with no joint
            above the threshold, the figure says so instead.
        keypoint_threshold: joints scored below it (and their bones) are hidden, as in the 2D overlay.
        title: optional title.
    """
    if poses.keypoints_3d is None:
        return message_figure("This model gives 2D keypoints only: no 3D for this input.")
    ids = poses.track_ids if poses.track_ids is not None else np.arange(len(poses))
    points = _masked_display(poses.keypoints_3d[None], poses.scores[None], keypoint_threshold)[0]
    if not np.isfinite(points).any():
        return message_figure("No person found with 3D joints above the keypoint threshold.")
    fig = go.Figure(data=_people_traces(points, poses.skeleton, ids, poses.scores))
    _layout(fig, points, title)
    return fig


def sequence_figure(
    sequence: PoseSequence,
    keypoint_threshold: float = 0.3,
    max_frames: int = 60,
    max_joints: int = 20_000,
    title: str | None = None,
    upright: bool = False,
) -> go.Figure:
    """An animated 3D figure of a sequence, with play/pause and a frame slider.

    Args:
        sequence: T frames of P people with ``keypoints_3d`` (T, P, K, 3) camera-frame metres.
        keypoint_threshold: joints scored below it are hidden.
        max_frames: at most this many animation frames (even subsampling; the figure says when it skips).
        max_joints: at most this many joints over all shown frames (frames x people x keypoints), the
            payload bound for long multi-person whole-body sequences.
        title: optional title; a note on subsampling is appended.
        upright: turn the view about the camera's optical axis by a multiple of 90 degrees so that the people
            stand up (:func:`upright_turn`): phones record in the sensor's orientation, so a take or capture
            filmed in portrait lies on its side. The figure says when it turned.
    """
    if sequence.keypoints_3d is None:
        return message_figure("No 3D in this sequence (a 2D-only model on a plain video).")
    t, p, k = sequence.scores.shape
    if t == 0 or p == 0:
        return message_figure("No person found in this sequence.")
    shown = subsample(t, max(1, min(max_frames, max_joints // (p * k))))
    camera = sequence.keypoints_3d[shown]
    turn = upright_turn(camera, sequence.skeleton) if upright else 0
    points = _masked_display(_turn(camera, turn), sequence.scores[shown], keypoint_threshold)
    if not np.isfinite(points).any():
        return message_figure("No 3D joints above the keypoint threshold in this sequence.")
    note = f"every {_step_text(shown)} frame: {len(shown)} of {t} shown" if len(shown) < t else f"{t} frames"
    if turn:
        note += f"; view turned {turn}° to stand upright"
    skeleton, ids = sequence.skeleton, sequence.track_ids
    first = _people_traces(points[0], skeleton, ids)
    fig = go.Figure(data=first)
    times = sequence.relative_time()[shown]
    fig.frames = [go.Frame(name=str(i), data=_people_xyz(points[j], skeleton)) for j, i in enumerate(shown.tolist())]
    _layout(fig, points, f"{title} ({note})" if title else note)
    _animation_controls(fig, shown, times, sequence.estimated_fps())
    return fig


def upright_turn(points: np.ndarray, skeleton: Skeleton) -> int:
    """Degrees (0, 90, 180 or 270) to turn camera-frame points about the optical axis so the body is upright.

    The body's up direction is the mean of mid-shoulders minus mid-hips (COCO indices 5, 6, 11, 12, shared by
    both skeletons) in the image plane; the turn is the multiple of 90 degrees that brings it nearest to up
    (-y), so a person leaning or lying in an upright picture is left as they are. 0 when it cannot tell.

    Args:
        points: (..., K, 3) camera-frame metres, NaN where unknown.
    """
    if skeleton.num_keypoints < 17:
        return 0
    with np.errstate(invalid="ignore"):
        up = (points[..., [5, 6], :2].mean(axis=-2) - points[..., [11, 12], :2].mean(axis=-2)).reshape(-1, 2)
    up = up[np.isfinite(up).all(axis=1)]
    if not len(up) or not np.linalg.norm(up.mean(axis=0)) > 1e-6:
        return 0
    x, y = up.mean(axis=0)
    # Angle of the body's up vector, clockwise on the screen from the image's up (-y).
    angle = np.degrees(np.arctan2(x, -y))
    return int(-round(angle / 90.0) * 90) % 360


def _turn(points: np.ndarray, degrees: int) -> np.ndarray:
    """Turn (..., 3) camera-frame points about the optical axis (z) by ``degrees`` clockwise on the screen."""
    if not degrees:
        return points
    c, s = {90: (0, 1), 180: (-1, 0), 270: (0, -1)}[degrees]
    x, y = points[..., 0], points[..., 1]
    return np.stack([c * x - s * y, s * x + c * y, points[..., 2]], axis=-1)


def _masked_display(points: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """(T, P, K, 3) camera-frame points -> display axes, NaN where the score is below the threshold."""
    shown = np.where((scores >= threshold)[..., None], points, np.nan)
    return to_display(shown.astype(np.float64))


def _rgb(color: tuple[int, int, int] | np.ndarray) -> str:
    r, g, b = (int(c) for c in color)
    return f"rgb({r},{g},{b})"


def _listed(values: np.ndarray) -> np.ndarray:
    """float32 with NaN for gaps: Plotly sends it as a base64 typed array (~5 characters a value, against
    ~8 for JSON numbers), and skips its per-element validation, which dominates the build time otherwise."""
    return np.ascontiguousarray(values, dtype=np.float32)


def _part_colorscale(skeleton: Skeleton) -> tuple[list[list[Any]], dict[str, int]]:
    """A stepwise colour scale with one band per part, and each part's value in it."""
    parts = list(skeleton.parts)
    n = len(parts)
    scale: list[list[Any]] = []
    for i, part in enumerate(parts):
        color = _rgb(skeleton.part_colors[part])
        scale += [[i / n, color], [(i + 1) / n, color]]
    return scale, {part: i for i, part in enumerate(parts)}


def _polylines(skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """The skeleton's bones as single-colour polylines, for one compact line trace per person.

    Drawing each bone as ``[a, b, gap]`` sends 3 vertices a bone; chaining bones of one colour that share
    a joint sends about half as many (a finger is 5 vertices, not 12).

    Returns:
        ``(vertex (V,) int64 keypoint indices with -1 for a gap, value (V,) float32 colour-scale value)``.
    """
    _, part_value = _part_colorscale(skeleton)
    part_of = skeleton.keypoint_part()
    # A bone takes its end's part colour (Skeleton.edge_colors); its value is the centre of that band.
    values = tuple(part_value[part_of[b]] + 0.5 for _, b in skeleton.edges)
    return _chain(skeleton.edges, values)


@lru_cache(maxsize=16)
def _chain(edges: tuple[tuple[int, int], ...], values: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Greedy cover of ``edges`` by paths whose edges share one value; see :func:`_polylines`."""
    unused = list(range(len(edges)))
    vertex: list[int] = []
    value: list[float] = []
    while unused:
        e = unused.pop(0)
        path, v = list(edges[e]), values[e]
        while (nxt := next((f for f in unused if values[f] == v and path[-1] in edges[f]), None)) is not None:
            unused.remove(nxt)
            x, y = edges[nxt]
            path.append(y if x == path[-1] else x)
        vertex += [*path, -1]
        value += [v] * (len(path) + 1)
    return np.asarray(vertex, dtype=np.int64), np.asarray(value, dtype=np.float32)


def _bone_vertices(points: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """(K, 3) joints -> (V, 3) polyline vertices; a NaN joint hides the bones that touch it, and a NaN
    vertex (index -1) separates one polyline from the next."""
    vertex, _ = _polylines(skeleton)
    return np.where((vertex >= 0)[:, None], points[vertex], np.nan)


def _xyz(points: np.ndarray) -> dict[str, np.ndarray]:
    return {"x": _listed(points[:, 0]), "y": _listed(points[:, 1]), "z": _listed(points[:, 2])}


def _people_traces(
    points: np.ndarray, skeleton: Skeleton, ids: np.ndarray, scores: np.ndarray | None = None
) -> list[go.Scatter3d]:
    """Two traces per person (bones, joints) for (P, K, 3) display-axis points (NaN = hidden).

    Every person always gets both traces, with NaN coordinates when absent, so that animation frames
    line up trace by trace with the first frame. With ``scores`` (P, K), hover shows them too.
    """
    _, vertex_value = _polylines(skeleton)
    scale, _ = _part_colorscale(skeleton)
    bone_line = {"color": vertex_value, "colorscale": scale, "cmin": 0, "cmax": len(skeleton.parts), "width": 5}
    names = list(skeleton.keypoint_names)
    sizes = [2.5 if part in SMALL_PARTS else 6 for part in skeleton.keypoint_part()]
    traces: list[go.Scatter3d] = []
    for i, pid in enumerate(np.asarray(ids).tolist()):
        label = f"person #{pid}"
        text = names if scores is None else [f"{n} ({s:.2f})" for n, s in zip(names, scores[i].tolist())]
        bones = _xyz(_bone_vertices(points[i], skeleton))
        joints = _xyz(points[i])
        traces += [
            go.Scatter3d(**bones, mode="lines", name=label, legendgroup=label, showlegend=False,
                         hoverinfo="skip", line=bone_line),
            go.Scatter3d(**joints, mode="markers", name=label, legendgroup=label, text=text,
                         marker={"size": sizes, "color": _rgb(track_color_rgb(pid)), "line": {"width": 0}},
                         hovertemplate=f"<b>%{{text}}</b><br>{label}<br>"
                         "x %{x:.3f} m, depth %{y:.3f} m, up %{z:.3f} m<extra></extra>"),
        ]  # fmt: skip
    return traces


def _people_xyz(points: np.ndarray, skeleton: Skeleton) -> list[go.Scatter3d]:
    """An animation frame: only the moving coordinates of each person's two traces (colours, names and
    sizes stay from the first frame)."""
    out = []
    for pts in points:
        out += [go.Scatter3d(**_xyz(_bone_vertices(pts, skeleton))), go.Scatter3d(**_xyz(pts))]
    return out


def _layout(fig: go.Figure, points: np.ndarray, title: str | None) -> None:
    """Equal-scale cube scene around every shown joint, a floor under the lowest one, camera in front."""
    flat = points.reshape(-1, 3)
    flat = flat[np.isfinite(flat).all(axis=1)]
    lo, hi = flat.min(axis=0), flat.max(axis=0)
    floor_up = float(lo[2])
    margin = 0.4
    fx0, fx1 = lo[0] - margin, hi[0] + margin
    fy0, fy1 = lo[1] - margin, hi[1] + margin
    fig.add_trace(
        go.Mesh3d(
            x=[fx0, fx1, fx1, fx0],
            y=[fy0, fy0, fy1, fy1],
            z=[floor_up] * 4,
            i=[0, 0],
            j=[1, 2],
            k=[2, 3],
            color=FLOOR_COLOR,
            opacity=0.35,
            hoverinfo="skip",
            showlegend=False,
            name="floor",
        )  # fmt: skip
    )
    center = (np.array([fx0, fy0, lo[2]]) + np.array([fx1, fy1, hi[2]])) / 2
    half = max(fx1 - fx0, fy1 - fy0, hi[2] - lo[2] + 2 * margin) / 2
    axis_style = {"backgroundcolor": BACKGROUND, "gridcolor": "#3c4456", "zerolinecolor": "#56607a",
                  "color": "#c9cfdb", "showspikes": False}  # fmt: skip
    axes = {
        name: {**axis_style, "title": {"text": text}, "range": [float(c - half), float(c + half)]}
        for name, text, c in zip(("xaxis", "yaxis", "zaxis"), AXIS_TITLES, center)
    }
    fig.update_layout(
        # The title on the first line, the legend in one row under it: on a phone a legend beside the scene
        # would take a third of its width.
        title={
            "text": title or "",
            "font": {"size": 12},
            "x": 0.01,
            "xanchor": "left",
            "y": 0.995,
            "yanchor": "top",
            "yref": "container",
        },
        paper_bgcolor=BACKGROUND,
        font={"color": "#e8eaf0"},
        height=HEIGHT,
        margin={"l": 0, "r": 0, "t": 52 if title else 28, "b": 0},
        legend={
            "itemsizing": "constant",
            "bgcolor": "rgba(0,0,0,0)",
            "orientation": "h",
            "x": 0.01,
            "xanchor": "left",
            "y": 1.0,
            "yanchor": "bottom",
            "font": {"size": 12},
        },
        scene={
            **axes,
            "aspectmode": "cube",
            # The camera sits at the origin of the camera frame, i.e. at smaller depth than the people:
            # look from that side, a little above, so the first view matches the photo.
            "camera": {
                "eye": {"x": 0.3, "y": -1.45, "z": 0.45},
                "up": {"x": 0, "y": 0, "z": 1},
                "center": {"x": 0, "y": 0, "z": 0},
            },  # fmt: skip
        },
    )


def _step_text(shown: np.ndarray) -> str:
    step = float(np.median(np.diff(shown))) if len(shown) > 1 else 1.0
    n = round(step)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}" if abs(step - n) < 0.05 else f"{step:.1f}th"


def _animation_controls(fig: go.Figure, shown: np.ndarray, times: np.ndarray, fps: float | None) -> None:
    """Play/pause buttons and a slider over the shown frames, played at about real time."""
    dt = float(np.median(np.diff(times))) if len(times) > 1 else 1 / (fps or 30)
    duration = int(np.clip(dt * 1000, 33, 1000))
    play = {"frame": {"duration": duration, "redraw": True}, "transition": {"duration": 0},
            "fromcurrent": True, "mode": "immediate"}  # fmt: skip
    pause = {"frame": {"duration": 0, "redraw": False}, "transition": {"duration": 0}, "mode": "immediate"}
    fig.update_layout(
        scene={"domain": {"x": [0, 1], "y": [CONTROLS, 1]}},  # the controls below the scene, not over the floor
        updatemenus=[
            {
                "type": "buttons",
                "direction": "left",
                "x": 0.02,
                "y": 0.02,
                "xanchor": "left",
                "yanchor": "bottom",
                "pad": {"r": 8, "t": 8},
                "showactive": False,
                "buttons": [
                    {"label": "▶ Play", "method": "animate", "args": [None, play]},
                    {"label": "❚❚ Pause", "method": "animate", "args": [[None], pause]},
                ],
            }
        ],
        sliders=[
            {
                "active": 0,
                "x": 0.2,
                "len": 0.78,
                "y": 0.02,
                "yanchor": "bottom",
                "currentvalue": {"prefix": "frame ", "font": {"size": 12, "color": "#e8eaf0"}},
                "font": {"color": "rgba(0,0,0,0)"},  # a label per step would overlap: the current one shows
                "pad": {"t": 0, "b": 8},
                "steps": [
                    {
                        "label": f"{i} ({t:.2f} s)",
                        "method": "animate",
                        "args": [[str(i)], {**play, "frame": {"duration": 0, "redraw": True}}],
                    }
                    for i, t in zip(shown.tolist(), times.tolist())
                ],
            }
        ],
    )
