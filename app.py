"""posekit's web app (placeholder until the app issue lands): a page that says what posekit is."""

from __future__ import annotations

import gradio as gr


def create_demo() -> gr.Blocks:
    with gr.Blocks(title="posekit") as demo:
        gr.Markdown("# posekit\n2D and 3D human pose from photos, videos and iPhone depth captures.")
    return demo


if __name__ == "__main__":
    create_demo().queue(max_size=20).launch()
