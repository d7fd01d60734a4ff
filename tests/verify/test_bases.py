"""The platform-like bases are laid out as the platform's (shared/reference/platform.md)."""

import json

from dockyard.testing.bases import PLATFORM_CMD, PLATFORM_ENV


def _config(podman, image):
    return podman.inspect(image)["Config"]


def test_jupyter_base_layout(podman, platform_base):
    config = _config(podman, platform_base)
    assert config["User"] == "1000"
    assert config["Cmd"] == json.loads(PLATFORM_CMD)
    env = dict(item.split("=", 1) for item in config["Env"])
    for key, value in PLATFORM_ENV.items():
        assert env[key] == value
    done = podman.run(platform_base, [
        "sh", "-c", "id -u; id -un; python -c 'import sys; print(sys.version_info[:2])';"
        " command -v jupyter; stat -c %U /opt/python",
    ])
    assert done.ok, done.stderr
    assert done.stdout.split("\n")[:5] == [
        "1000", "onyxia", "(3, 13)", "/opt/python/bin/jupyter", "onyxia",
    ]


def test_nojupyter_base_has_no_jupyter(podman, platform_base_nojupyter):
    done = podman.run(platform_base_nojupyter, ["sh", "-c", "command -v jupyter || echo none"])
    assert done.stdout.strip() == "none"
    assert _config(podman, platform_base_nojupyter)["Cmd"] == json.loads(PLATFORM_CMD)


def test_cuda_base_layout(podman, platform_base_cuda):
    config = _config(podman, platform_base_cuda)
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["CUDA_VERSION"] == "12.6.3"
    assert config["User"] == "1000"
    done = podman.run(platform_base_cuda, [
        "sh", "-c", "readlink -f /usr/local/cuda/lib64/libcudart.so.12;"
        " ldconfig -p | grep -c libcudart.so.12",
    ])
    assert done.ok, done.stderr
    lines = done.stdout.split()
    assert lines[0] == "/usr/local/cuda-12.6/targets/x86_64-linux/lib/libcudart.so.12.6.77"
    assert int(lines[1]) >= 1
