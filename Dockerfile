# The image the Docker sandbox backend runs untrusted workers in.
#
#   docker build -t kgrader-worker:latest .                 # CUDA: a PyTorch devel base (nvcc included)
#   bash docker/build-cpu-image.sh                           # CPU only, offline base: kgrader-worker:cpu
#   docker build --build-arg BASE_IMAGE=my/base:tag -t kgrader-worker:latest .
#
# The grader's own source is NOT in the image: the backend mounts it read-only at run time
# (WorkerSpec.pythonpath), so the image only changes when the worker's dependencies do.
#
# What the backend relies on: the label org.kgrader.python names an interpreter that imports
# torch, ninja, psutil, pydantic and numpy, and can build C++/CUDA extensions (g++, and nvcc on a
# CUDA base). It runs that interpreter as uid 10001 on a read-only root, whatever USER says here.
#
# Optional build inputs live in docker/context/ (see its README): a torch wheel for a base without
# torch, and a CA bundle for pip behind an intercepting proxy. They are used in the build stage
# only and never reach the final image. pip is never allowed to fetch torch itself.

ARG BASE_IMAGE=pytorch/pytorch:2.11.0-cuda13.0-cudnn9-devel

FROM ${BASE_IMAGE} AS build
LABEL org.kgrader.stage=build
COPY docker/context/ /tmp/kg-build/
RUN set -eu; \
    PY="$(command -v python3 || command -v python)"; \
    if [ -f /tmp/kg-build/ca.crt ]; then export PIP_CERT=/tmp/kg-build/ca.crt; fi; \
    export PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1; \
    "$PY" -m venv --system-site-packages /opt/kg; \
    if ! /opt/kg/bin/python -c 'import torch' 2>/dev/null; then \
        wheel="$(ls /tmp/kg-build/wheels/torch-*.whl 2>/dev/null | head -n 1)"; \
        if [ -z "$wheel" ]; then \
            echo 'the base image has no torch and docker/context/wheels/ holds no torch wheel' >&2; exit 1; \
        fi; \
        /opt/kg/bin/python -m pip install "$wheel"; \
    fi; \
    echo "torch==$(/opt/kg/bin/python -c 'import torch; print(torch.__version__)')" > /tmp/kg-build/pin.txt; \
    /opt/kg/bin/python -m pip install --constraint /tmp/kg-build/pin.txt ninja psutil pydantic numpy; \
    /opt/kg/bin/python -c 'import torch, ninja, psutil, pydantic, numpy; print("worker deps ok, torch", torch.__version__)'

FROM ${BASE_IMAGE}
ARG KG_UID=10001
RUN set -eu; \
    if ! command -v g++ >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then \
        apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends g++ \
        && rm -rf /var/lib/apt/lists/*; \
    fi; \
    if ! getent passwd "${KG_UID}" >/dev/null; then \
        useradd --uid "${KG_UID}" --user-group --create-home --shell /bin/sh kgrader 2>/dev/null \
        || { echo "kgrader:x:${KG_UID}:${KG_UID}::/tmp:/bin/sh" >> /etc/passwd; \
             echo "kgrader:x:${KG_UID}:" >> /etc/group; }; \
    fi
COPY --from=build /opt/kg /opt/kg
LABEL org.kgrader.python=/opt/kg/bin/python
ENV PATH=/opt/kg/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1
USER ${KG_UID}:${KG_UID}
WORKDIR /tmp
CMD ["/opt/kg/bin/python", "-c", "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"]
