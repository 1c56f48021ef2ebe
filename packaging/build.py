"""Build ModelDesk for Linux: a PyInstaller one-folder bundle, a .deb, or a per-user install.

    python packaging/build.py package        # the bundle and the .deb (``make package``)
    python packaging/build.py bundle         # the bundle only (reused while nothing changed)
    python packaging/build.py install-user   # into ~/.local, no root (``make install-user``)
    python packaging/build.py uninstall-user
    python packaging/build.py icons          # render the PNG icons from the SVG

Everything lands in ``packaging/dist/``: ``modeldesk/`` (the bundle) and
``modeldesk_VERSION_ARCH.deb``. The bundle is rebuilt only when its inputs changed (the app's
sources, the spec, the icons, the installed packages); ``--force`` rebuilds anyway.
Run it with the project's virtual environment: it is what the bundle is made of.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"
DIST = PACKAGING / "dist"
WORK = PACKAGING / "build"
BUNDLE = DIST / "modeldesk"
BUNDLE_KEY = DIST / "modeldesk.key"
ICONS = ROOT / "resources" / "icons"
APP_ID = "io.modeldesk.ModelDesk"
DESKTOP_TEMPLATE = PACKAGING / f"{APP_ID}.desktop"
PNG_SIZES = (48, 128, 256)
# The release checked to build this bundle; older ones lack the PySide6 6.11 hooks.
PYINSTALLER_REQUIREMENT = "pyinstaller>=6.22"
INSTALL_DIR = "/opt/modeldesk"
MAINTAINER = "ModelDesk Developers <dev@modeldesk.local>"
# What a bare Debian 12 lacks for the bundle: the libraries PyInstaller leaves to the system
# (libc, GL/EGL, libxcb) and those the Qt platform plugins load, a font configuration and a font.
DEPENDS = (
    "libc6 (>= 2.36)",
    "libgl1",
    "libegl1",
    "libfontconfig1",
    "fontconfig-config",
    "fonts-dejavu-core",
    "libfreetype6",
    "libglib2.0-0",
    "libdbus-1-3",
    "libx11-6",
    "libx11-xcb1",
    "libxcb1",
    "libxcb-cursor0",
    "libxcb-icccm4",
    "libxcb-image0",
    "libxcb-keysyms1",
    "libxcb-randr0",
    "libxcb-render-util0",
    "libxcb-shape0",
    "libxcb-xfixes0",
    "libxcb-xkb1",
    "libxkbcommon0",
    "libxkbcommon-x11-0",
)
# Git keeps run code snapshots and model cards; Wayland libraries let Qt draw natively there.
RECOMMENDS = ("git", "libwayland-client0", "libwayland-cursor0", "libwayland-egl1")


def app_version() -> str:
    """The app's version, read from the package without importing it."""
    for line in (ROOT / "desktop_app" / "__init__.py").read_text().splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    raise SystemExit("desktop_app/__init__.py has no __version__")


def log(message: str) -> None:
    """Progress on stderr, so stdout stays for results."""
    print(f"[package] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def build_lock() -> Iterator[None]:
    """One build at a time (a test and ``make package`` may run together)."""
    DIST.mkdir(parents=True, exist_ok=True)
    with open(DIST / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---- icons -----------------------------------------------------------------------------------


def render_icons() -> list[Path]:
    """Render the SVG icon to PNGs of each size with Qt's SVG renderer (headless)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(ICONS / f"{APP_ID}.svg"))
    if not renderer.isValid():
        raise SystemExit("the SVG icon does not parse")
    written = []
    for size in PNG_SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        target = ICONS / f"{APP_ID}-{size}.png"
        if not image.save(str(target)):
            raise SystemExit(f"cannot write {target}")
        written.append(target)
    del _app
    return written


def icon_files() -> dict[str, Path]:
    """The hicolor size folder of each icon file (``scalable`` for the SVG)."""
    files = {"scalable": ICONS / f"{APP_ID}.svg"}
    files.update({f"{s}x{s}": ICONS / f"{APP_ID}-{s}.png" for s in PNG_SIZES})
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise SystemExit(f"icons missing (run 'build.py icons'): {', '.join(missing)}")
    return files


# ---- the bundle ------------------------------------------------------------------------------


def ensure_pyinstaller() -> None:
    """Install PyInstaller into this environment when it is not there yet."""
    try:
        importlib.metadata.version("pyinstaller")
    except importlib.metadata.PackageNotFoundError:
        log(f"installing {PYINSTALLER_REQUIREMENT}")
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", PYINSTALLER_REQUIREMENT],
            check=True,
        )


def bundle_inputs() -> list[Path]:
    """The files a bundle is made from (besides the installed packages)."""
    sources = [
        p
        for p in sorted((ROOT / "desktop_app").rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    ]
    return [
        *sources,
        PACKAGING / "modeldesk.spec",
        PACKAGING / "entry.py",
        *sorted(ICONS.glob("*")),
    ]


def bundle_key() -> str:
    """A hash of everything that changes the bundle: sources, spec, icons, packages, Python."""
    digest = hashlib.sha256(sys.version.encode())
    for path in bundle_inputs():
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0")
        digest.update(path.read_bytes())
    # The environment's own site-packages only: a source tree's egg-info on sys.path is not one.
    site = sorted({sysconfig.get_path("purelib"), sysconfig.get_path("platlib")})
    packages = sorted(
        f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions(path=site)
    )
    digest.update("\n".join(packages).encode())
    return digest.hexdigest()


def bundle_is_current(key: str) -> bool:
    """Whether the bundle on disk was built from exactly these inputs."""
    return (
        (BUNDLE / "modeldesk").is_file()
        and BUNDLE_KEY.is_file()
        and BUNDLE_KEY.read_text().strip() == key
    )


def build_bundle(*, force: bool = False) -> Path:
    """Build (or reuse) the one-folder bundle; return its folder."""
    key = bundle_key()
    if not force and bundle_is_current(key):
        log(f"bundle up to date: {BUNDLE}")
        return BUNDLE
    ensure_pyinstaller()
    BUNDLE_KEY.unlink(missing_ok=True)
    log("building the bundle with PyInstaller (about two minutes)")
    started = time.monotonic()
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYQTGRAPH_QT_LIB="PySide6")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--log-level=WARN",
            f"--distpath={DIST}",
            f"--workpath={WORK}",
            str(PACKAGING / "modeldesk.spec"),
        ],
        check=True,
        cwd=ROOT,
        env=env,
    )
    smoke = subprocess.run(
        [str(BUNDLE / "modeldesk"), "--version"], capture_output=True, text=True, timeout=120
    )
    if smoke.returncode != 0 or app_version() not in smoke.stdout:
        raise SystemExit(f"the bundle does not start:\n{smoke.stdout}{smoke.stderr}")
    BUNDLE_KEY.write_text(key + "\n")
    log(f"bundle built in {time.monotonic() - started:.0f} s: {BUNDLE} ({folder_mib(BUNDLE)} MiB)")
    return BUNDLE


def folder_bytes(folder: Path) -> int:
    """The size of a folder's files (links counted once)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def folder_mib(folder: Path) -> int:
    """The size of a folder's files in MiB."""
    return round(folder_bytes(folder) / 2**20)


# ---- the desktop entry -----------------------------------------------------------------------


def desktop_entry(exec_path: str) -> str:
    """The .desktop file with ``Exec``/``TryExec`` set to ``exec_path``."""
    lines = []
    for line in DESKTOP_TEMPLATE.read_text().splitlines():
        if line.startswith("Exec="):
            line = f"Exec={exec_path}"
        elif line.startswith("TryExec="):
            line = f"TryExec={exec_path}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def install_icons(share: Path) -> None:
    """Copy the icons into ``share/icons/hicolor/SIZE/apps/``."""
    for size, source in icon_files().items():
        target = share / "icons" / "hicolor" / size / "apps" / f"{APP_ID}{source.suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


# ---- the .deb --------------------------------------------------------------------------------


def deb_architecture() -> str:
    """dpkg's name for this machine's architecture (``amd64``, ``arm64``)."""
    return subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()


def control_file(installed_kib: int) -> str:
    """The DEBIAN/control text."""
    return (
        "Package: modeldesk\n"
        f"Version: {app_version()}\n"
        f"Architecture: {deb_architecture()}\n"
        f"Maintainer: {MAINTAINER}\n"
        f"Installed-Size: {installed_kib}\n"
        f"Depends: {', '.join(DEPENDS)}\n"
        f"Recommends: {', '.join(RECOMMENDS)}\n"
        "Section: science\n"
        "Priority: optional\n"
        "Description: run the whole life of a machine-learning model on one laptop, offline\n"
        " ModelDesk logs runs from your own Python scripts, trains scikit-learn models\n"
        " from a form or a TOML job file, lets you browse, filter and compare runs in a\n"
        " fast native window, registers and serves models over HTTP, and keeps it all\n"
        " in one folder you can copy, back up and open like a document.\n"
        " .\n"
        " This package bundles its own Python interpreter and libraries in /opt/modeldesk.\n"
    )


def deb_key() -> str:
    """A hash of what goes into the .deb: the bundle's key, this script, the entry and icons."""
    digest = hashlib.sha256(BUNDLE_KEY.read_bytes())
    for path in (Path(__file__), DESKTOP_TEMPLATE, *sorted(ICONS.glob("*"))):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def build_deb(bundle: Path, *, force: bool = False) -> Path:
    """Build (or reuse) ``modeldesk_VERSION_ARCH.deb`` from the bundle; return its path."""
    target = DIST / f"modeldesk_{app_version()}_{deb_architecture()}.deb"
    key_file = target.with_suffix(".key")
    key = deb_key()
    if not force and target.is_file() and key_file.is_file() and key_file.read_text() == key:
        log(f"package up to date: {target}")
        return target
    key_file.unlink(missing_ok=True)
    stage = WORK / "deb-root"
    shutil.rmtree(stage, ignore_errors=True)
    opt = stage / INSTALL_DIR.lstrip("/")
    shutil.copytree(bundle, opt, symlinks=True)
    usr_bin = stage / "usr" / "bin"
    usr_bin.mkdir(parents=True)
    (usr_bin / "modeldesk").symlink_to(f"{INSTALL_DIR}/modeldesk")
    share = stage / "usr" / "share"
    applications = share / "applications"
    applications.mkdir(parents=True)
    (applications / f"{APP_ID}.desktop").write_text(desktop_entry("modeldesk"))
    install_icons(share)
    doc = share / "doc" / "modeldesk"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(
        "ModelDesk is licensed under the MIT license. The bundled Python, Qt (LGPLv3),\n"
        "PySide6 (LGPLv3) and other libraries keep their own licenses; their metadata is\n"
        f"under {INSTALL_DIR}/_internal.\n"
    )
    for path in stage.rglob("*"):
        if path.is_symlink():
            continue
        executable = path.is_dir() or os.access(path, os.X_OK)
        path.chmod(0o755 if executable else 0o644)
    installed_kib = folder_bytes(stage) // 1024
    debian = stage / "DEBIAN"
    debian.mkdir(mode=0o755)
    (debian / "control").write_text(control_file(installed_kib))
    target.unlink(missing_ok=True)
    log(f"building {target.name}")
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Zzstd", "-z9", "--build", str(stage), str(target)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    shutil.rmtree(stage, ignore_errors=True)
    key_file.write_text(key)
    log(f"{target} ({target.stat().st_size // 2**20} MiB)")
    return target


# ---- per-user install ------------------------------------------------------------------------


def install_user(bundle: Path, prefix: Path) -> Path:
    """Install the bundle under ``prefix`` (default ``~/.local``) for this user; no root.

    The bundle goes to ``PREFIX/opt/modeldesk`` (swapped in whole, so a running copy keeps its
    files), the launcher link to ``PREFIX/bin``, the menu entry (its Exec an absolute path,
    since a desktop session's PATH may lack ``~/.local/bin``) and icons to ``PREFIX/share``.
    """
    opt = prefix / "opt" / "modeldesk"
    opt.parent.mkdir(parents=True, exist_ok=True)
    incoming = opt.with_name("modeldesk.new")
    outgoing = opt.with_name("modeldesk.old")
    for stale in (incoming, outgoing):
        shutil.rmtree(stale, ignore_errors=True)
    shutil.copytree(bundle, incoming, symlinks=True)
    if opt.exists():
        opt.rename(outgoing)
    incoming.rename(opt)
    shutil.rmtree(outgoing, ignore_errors=True)
    launcher = prefix / "bin" / "modeldesk"
    launcher.parent.mkdir(parents=True, exist_ok=True)
    launcher.unlink(missing_ok=True)
    launcher.symlink_to(opt / "modeldesk")
    share = prefix / "share"
    applications = share / "applications"
    applications.mkdir(parents=True, exist_ok=True)
    (applications / f"{APP_ID}.desktop").write_text(desktop_entry(str(launcher)))
    install_icons(share)
    refresh_desktop_caches(share)
    log(f"installed: {launcher} -> {opt}")
    if str(launcher.parent) not in os.environ.get("PATH", "").split(os.pathsep):
        log(f"note: {launcher.parent} is not on PATH; the applications menu works regardless")
    return launcher


def uninstall_user(prefix: Path) -> None:
    """Remove what ``install_user`` put under ``prefix`` (registries and settings stay)."""
    shutil.rmtree(prefix / "opt" / "modeldesk", ignore_errors=True)
    launcher = prefix / "bin" / "modeldesk"
    if launcher.is_symlink() or launcher.exists():
        launcher.unlink()
    share = prefix / "share"
    (share / "applications" / f"{APP_ID}.desktop").unlink(missing_ok=True)
    for size in ("scalable", *(f"{s}x{s}" for s in PNG_SIZES)):
        for suffix in (".svg", ".png"):
            (share / "icons" / "hicolor" / size / "apps" / f"{APP_ID}{suffix}").unlink(
                missing_ok=True
            )
    refresh_desktop_caches(share)
    log(f"removed ModelDesk from {prefix}")


def refresh_desktop_caches(share: Path) -> None:
    """Tell the desktop about new menu entries and icons, where its tools are installed."""
    tools = (
        ["update-desktop-database", "--quiet", str(share / "applications")],
        ["gtk-update-icon-cache", "--quiet", "--ignore-theme-index", str(share / "icons/hicolor")],
    )
    for command in tools:
        if shutil.which(command[0]):
            subprocess.run(command, check=False, capture_output=True)


# ---- command line ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run one packaging command; return the exit code."""
    parser = argparse.ArgumentParser(prog="packaging/build.py", description=__doc__.split("\n")[0])
    parser.add_argument(
        "command", choices=["package", "bundle", "deb", "install-user", "uninstall-user", "icons"]
    )
    parser.add_argument("--force", action="store_true", help="Rebuild the bundle even if current.")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="Use the bundle already in packaging/dist as it is, even if the sources changed.",
    )
    parser.add_argument(
        "--prefix",
        type=Path,
        default=Path.home() / ".local",
        help="Where install-user puts ModelDesk (default: ~/.local).",
    )
    args = parser.parse_args(argv)
    if args.command == "icons":
        for path in render_icons():
            print(path)
        return 0
    if args.command == "uninstall-user":
        uninstall_user(args.prefix.expanduser())
        return 0
    with build_lock():
        if args.reuse and (BUNDLE / "modeldesk").is_file():
            bundle = BUNDLE
        else:
            bundle = build_bundle(force=args.force)
        if args.command in ("package", "deb"):
            print(build_deb(bundle, force=args.force))
        elif args.command == "install-user":
            print(install_user(bundle, args.prefix.expanduser()))
        else:
            print(bundle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
