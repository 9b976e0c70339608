# One image for every entrypoint: `modelops operator | serve | fetch | train | ...`.
#   docker build -t ghcr.io/modelops/modelops:0.1.0 .
# The operator Deployment runs it with its default command; serving pods and retraining Jobs
# pass their own subcommand as args. tests/manifests/test_dockerfile.py checks what can be
# checked without a Docker engine (it builds the same wheel from the same files).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/modelops
WORKDIR /src
COPY pyproject.toml README.md ./
COPY modelops/ modelops/
# modelops/operator and modelops/serving are symlinks to these two folders; the wheel build
# follows the links, so the folders must be in the image too.
COPY operator/ operator/
COPY serving/ serving/
# No extras: the dev tools (pytest, kubectl, mypy...) stay out of the image.
RUN /opt/modelops/bin/pip install .

FROM python:3.11-slim
LABEL org.opencontainers.image.title="modelops" \
      org.opencontainers.image.description="Kubernetes operator and model server for the production ML lifecycle" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /opt/modelops /opt/modelops
# HOME on the writable /tmp: pods run with a read-only root filesystem and /tmp as an emptyDir.
ENV PATH=/opt/modelops/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp
WORKDIR /tmp
# A numeric non-root user, so the kubelet can enforce runAsNonRoot without an /etc/passwd entry.
USER 65532:65532
ENTRYPOINT ["modelops"]
CMD ["operator"]
