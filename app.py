"""posekit's web app and Hugging Face Space: the UI is built by the library (``posekit.ui``)."""

from posekit.ui import create_demo, launch

demo = create_demo()

if __name__ == "__main__":
    launch(demo)
