# posekit web app on CPU (or a GPU with the CUDA torch wheel): http://localhost:7860
#   docker build -t posekit .
#   docker run -p 7860:7860 -v posekit-weights:/data posekit
# Weights are downloaded once into the /data volume (Hugging Face cache and posekit's URL cache); to use
# local files instead, mount a folder of upstream file names and point POSEKIT_WEIGHTS_DIR at it:
#   docker run -p 7860:7860 -v $PWD/weights:/weights:ro -e POSEKIT_WEIGHTS_DIR=/weights posekit
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The CPU build of torch first, so that requirements.txt finds it satisfied instead of pulling CUDA wheels.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install "torch>=2.4" --index-url "$TORCH_INDEX"

WORKDIR /app
COPY requirements.txt ./
# No compiler in this image, and none needed: the compiled requirements come as wheels for Python 3.11 on
# x86-64 and arm64 Linux (lzfse, for Record3D depth, from 0.4.2.post1; av; numpy; OpenCV). --only-binary makes
# a missing wheel fail the build here, instead of a source build failing without gcc. EXR depth maps are read
# by posekit's own reader: no OpenEXR package is needed.
RUN pip install --only-binary=lzfse,av,numpy,opencv-python-headless,pillow -r requirements.txt

COPY posekit ./posekit
COPY assets ./assets
COPY app.py ./

# An unprivileged user owns only the cache volume.
RUN useradd --create-home --uid 1000 posekit && mkdir -p /data && chown posekit:posekit /data
USER posekit
ENV HF_HOME=/data/huggingface \
    POSEKIT_CACHE=/data/posekit \
    GRADIO_TEMP_DIR=/tmp/gradio \
    GRADIO_SERVER_NAME=0.0.0.0 \
    GRADIO_SERVER_PORT=7860 \
    GRADIO_ANALYTICS_ENABLED=False
VOLUME ["/data"]
EXPOSE 7860
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:7860/', timeout=4)" || exit 1
CMD ["python", "app.py"]
