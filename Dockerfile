# ganforge in a container: the CLI, the web app and JupyterLab with the notebooks.
#
#   docker build -t ganforge:cpu .                                   CPU (the default)
#   docker build --build-arg VARIANT=cuda -t ganforge:cuda .         CUDA 12.8 (needs the NVIDIA runtime)
#   docker compose up                                                web + jupyter, see compose.yaml
#   podman build --build-arg VARIANT=cpu -t ganforge:cpu .            podman/buildah: name VARIANT
#     explicitly (buildah does not apply a global ARG's default to the stage name in FROM)
#
# Every install step is docker/install.sh (CI runs the same script in a fresh virtual environment).
# The base images are pinned; CPU_BASE/CUDA_BASE substitute others (a mirror, or the Debian image
# docker/local-base.sh makes offline), TORCH/TORCH_INDEX another PyTorch build.
ARG CPU_BASE=python:3.11.11-slim-bookworm
ARG CUDA_BASE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
ARG VARIANT=cpu

FROM ${CPU_BASE} AS base-cpu
ENV GANFORGE_TORCH_INDEX=https://download.pytorch.org/whl/cpu

FROM ${CUDA_BASE} AS base-cuda
ENV GANFORGE_TORCH_INDEX=https://download.pytorch.org/whl/cu128 \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility

# hadolint ignore=DL3006
FROM base-${VARIANT} AS runtime
ARG TORCH=torch
ARG TORCH_INDEX=
ARG EXTRAS=export,hub,hf,notebook
ARG UID=1000
# pip settings for the build only (a mirror, a folder of wheels, a company CA); not kept in the image
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_FIND_LINKS
ARG PIP_CERT
ENV VENV=/opt/ganforge/venv \
    PATH=/opt/ganforge/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    MPLBACKEND=Agg \
    MPLCONFIGDIR=/tmp/matplotlib \
    HF_HOME=/work/cache/huggingface \
    GANFORGE_CACHE=/work/cache/ganforge

# Python (the CUDA base has none) and an unprivileged user; /work holds data, runs, notebooks
COPY docker/install.sh /opt/ganforge/install.sh
RUN /opt/ganforge/install.sh system \
    && groupadd --gid "${UID}" ganforge \
    && useradd --create-home --uid "${UID}" --gid "${UID}" --shell /bin/bash ganforge \
    && mkdir -p /work/data /work/runs /work/cache /work/notebooks \
    && chown -R ganforge:ganforge /work

# dependencies: the big layer, rebuilt only when pyproject.toml changes
COPY pyproject.toml /opt/ganforge/src/pyproject.toml
RUN SRC=/opt/ganforge/src /opt/ganforge/install.sh deps

# ganforge itself: a small layer
COPY README.md /opt/ganforge/src/README.md
COPY src /opt/ganforge/src/src
RUN SRC=/opt/ganforge/src /opt/ganforge/install.sh project check \
    && rm -rf /opt/ganforge/src/build /opt/ganforge/src/src/*.egg-info

COPY docker/healthcheck.py /opt/ganforge/healthcheck.py
COPY --chown=ganforge:ganforge notebooks /work/notebooks

USER ${UID}:${UID}
WORKDIR /work
VOLUME ["/work/data", "/work/runs", "/work/cache"]
EXPOSE 8000 8888
# healthy when this container's `ganforge serve` answers; containers that do not serve are healthy
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["python", "/opt/ganforge/healthcheck.py"]
ENTRYPOINT ["ganforge"]
CMD ["--help"]
