from dockyard.cli import main


def test_version(capsys):
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert "dockyard" in capsys.readouterr().out


def test_debian_image_runs(podman, debian_trixie):
    done = podman.run(debian_trixie, ["cat", "/etc/debian_version"])
    assert done.ok, done.stderr
    assert done.stdout.strip().startswith(("13", "trixie"))
