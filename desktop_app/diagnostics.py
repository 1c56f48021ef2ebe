"""What a bug report needs, and the health checks behind ``modeldesk doctor``; no Qt here.

``gather`` collects versions, platform and paths without importing the heavy libraries (their
versions come from package metadata), so the About box opens at once. ``run_checks`` looks at
the registry, Git, the loopback network, the folders ModelDesk writes to and the Qt platform
plugin's system libraries, and says how to fix each problem it finds.
"""

from __future__ import annotations

import enum
import importlib.metadata
import importlib.util
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from desktop_app import __version__
from desktop_app.errors import AppError

ENV_SETTINGS_DIR = "MODELDESK_SETTINGS_DIR"
# Distribution names of the libraries a bug report names, in the order shown.
REPORTED_PACKAGES = (
    ("PySide6", ("PySide6_Essentials", "PySide6")),
    ("pyqtgraph", ("pyqtgraph",)),
    ("scikit-learn", ("scikit-learn",)),
    ("numpy", ("numpy",)),
    ("pandas", ("pandas",)),
    ("skops", ("skops",)),
    ("uvicorn", ("uvicorn",)),
    ("optuna", ("optuna",)),
    ("distributed", ("distributed",)),
    ("GitPython", ("GitPython",)),
)
MIN_GIT = (2, 20)
GIT_TIMEOUT_S = 10.0


def is_frozen() -> bool:
    """Whether this is the bundled app (PyInstaller) rather than Python running the sources."""
    return bool(getattr(sys, "frozen", False))


def package_version(*names: str) -> str | None:
    """The installed version of the first distribution found among ``names`` (no import)."""
    for name in names:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def data_folder() -> Path:
    """The user data folder that holds the default registry."""
    from desktop_app.registry.paths import default_registry_path

    return default_registry_path().parent


def settings_file() -> Path:
    """Where the window keeps its settings (the Qt default for ``ModelDesk/ModelDesk``)."""
    folder = os.environ.get(ENV_SETTINGS_DIR)
    if folder:
        return Path(folder) / "ModelDesk.ini"
    if sys.platform.startswith("linux"):
        config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        return Path(config) / "ModelDesk" / "ModelDesk.conf"
    import platformdirs

    return Path(platformdirs.user_config_dir("ModelDesk", appauthor=False)) / "ModelDesk.ini"


@dataclass(frozen=True)
class Diagnostics:
    """Versions, platform and paths of this ModelDesk, for the About box and bug reports."""

    version: str
    python: str
    platform: str
    frozen: bool
    executable: str
    registry: str
    settings: str
    data_folder: str
    packages: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready record."""
        data = asdict(self)
        data["packages"] = dict(self.packages)
        return data

    def as_text(self) -> str:
        """Plain text to paste into a bug report."""
        rows = [
            ("ModelDesk", self.version + (" (bundled)" if self.frozen else " (from source)")),
            ("Python", self.python),
            ("Platform", self.platform),
            *self.packages.items(),
            ("Registry", self.registry),
            ("Settings", self.settings),
            ("Data folder", self.data_folder),
            ("Executable", self.executable),
        ]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name.ljust(width)}  {value}" for name, value in rows) + "\n"


def gather(
    registry_root: str | os.PathLike[str],
    *,
    extra: Mapping[str, str] | None = None,
    settings: str | os.PathLike[str] | None = None,
) -> Diagnostics:
    """Diagnostics for a registry; ``extra`` adds versions only the caller knows (Qt's)."""
    packages = dict(extra or {})
    for label, names in REPORTED_PACKAGES:
        packages.setdefault(label, package_version(*names) or "not installed")
    return Diagnostics(
        version=__version__,
        python=f"{platform.python_version()} ({platform.python_implementation()})",
        platform=_platform_text(),
        frozen=is_frozen(),
        executable=sys.executable,
        registry=str(Path(registry_root).expanduser()),
        settings=str(settings or settings_file()),
        data_folder=str(data_folder()),
        packages=packages,
    )


def _platform_text() -> str:
    text = platform.platform()
    if sys.platform.startswith("linux"):
        try:
            pretty = platform.freedesktop_os_release().get("PRETTY_NAME")
        except OSError:
            pretty = None
        if pretty:
            text = f"{pretty}, {text}"
    session = os.environ.get("XDG_SESSION_TYPE")
    return f"{text}, {session} session" if session else text


# ---- health checks ---------------------------------------------------------------------------


class Status(enum.StrEnum):
    """The outcome of one check."""

    OK = "OK"
    WARNING = "WARN"
    PROBLEM = "FAIL"


@dataclass(frozen=True)
class Check:
    """One check's outcome: what was looked at, what was found, and how to fix a problem."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        """A JSON-ready record."""
        return {
            "name": self.name,
            "status": str(self.status),
            "detail": self.detail,
            "fix": self.fix,
        }

    @property
    def failed(self) -> bool:
        """Whether this check found a problem (warnings are not problems)."""
        return self.status == Status.PROBLEM


def check_registry(path: str | os.PathLike[str] | None, *, explicit: bool) -> list[Check]:
    """The registry opens, and its database and artifact files are intact."""
    from desktop_app.registry import open_registry
    from desktop_app.registry.paths import resolve_registry_path

    root = resolve_registry_path(path)
    if not explicit and not (root / "registry.db").exists():
        detail = f"{root} does not exist yet; ModelDesk creates it on first start"
        return [Check("Registry", Status.OK, detail)]
    try:
        registry = open_registry(root, create=False)
    except AppError as exc:
        return [
            Check(
                "Registry",
                Status.PROBLEM,
                f"{root}: {exc.message}",
                "Check the path, or open another registry with --registry PATH; "
                "if it was damaged, restore a backup ('modeldesk registry backup' makes one).",
            )
        ]
    try:
        info = registry.info()
        problems = registry.check()
    finally:
        registry.close()
    opened = Check(
        "Registry",
        Status.OK,
        f"{root} (schema v{info['schema_version']}, {info['runs']:,} runs)",
    )
    if not problems:
        return [opened, Check("Integrity", Status.OK, "database and artifact files are intact")]
    shown = "; ".join(problems[:3]) + (
        f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
    )
    return [
        opened,
        Check(
            "Integrity",
            Status.PROBLEM,
            f"{len(problems)} problem(s): {shown}",
            "Run 'modeldesk registry check' for the full list; restore the registry folder "
            "from a backup, or re-log the runs whose artifact files are missing.",
        ),
    ]


def git_version(executable: str) -> tuple[int, ...] | None:
    """The version of a Git binary (``git --version``), or None when it does not run."""
    try:
        result = subprocess.run(
            [executable, "--version"], capture_output=True, text=True, timeout=GIT_TIMEOUT_S
        )
    except (OSError, subprocess.SubprocessError):
        return None
    words = result.stdout.split()
    if result.returncode != 0 or len(words) < 3:
        return None
    numbers = []
    for part in words[2].split("."):
        if not part.isdigit():
            break
        numbers.append(int(part))
    return tuple(numbers) or None


def check_git() -> Check:
    """Git is installed, runs, and is recent enough for run snapshots."""
    configured = os.environ.get("GIT_PYTHON_GIT_EXECUTABLE")
    executable = configured or shutil.which("git")
    install = "Install Git (Debian/Ubuntu: sudo apt install git), then start ModelDesk again."
    if not executable:
        return Check("Git", Status.PROBLEM, "git is not on PATH", install)
    version = git_version(executable)
    if version is None:
        return Check("Git", Status.PROBLEM, f"{executable} does not run", install)
    shown = ".".join(map(str, version))
    if version < MIN_GIT:
        need = ".".join(map(str, MIN_GIT))
        return Check("Git", Status.PROBLEM, f"{executable} is {shown}, older than {need}", install)
    return Check("Git", Status.OK, f"{executable} (version {shown})")


def check_ports() -> Check:
    """Model servers can bind free ports on 127.0.0.1."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.listen(1)
            port = sock.getsockname()[1]
    except OSError as exc:
        return Check(
            "Ports",
            Status.PROBLEM,
            f"cannot listen on 127.0.0.1: {exc.strerror or exc}",
            "Bring up the loopback interface (sudo ip link set lo up) or allow local "
            "listening sockets in the firewall or sandbox that runs ModelDesk.",
        )
    return Check("Ports", Status.OK, f"free ports on 127.0.0.1 (got {port})")


def check_writable(name: str, folder: Path) -> Check:
    """A folder (or, before it exists, its nearest existing parent) takes new files."""
    target = folder
    while not target.exists() and target != target.parent:
        target = target.parent
    try:
        with tempfile.NamedTemporaryFile(dir=target, prefix=".modeldesk-doctor-"):
            pass
    except OSError as exc:
        return Check(
            name,
            Status.PROBLEM,
            f"cannot write in {target}: {exc.strerror or exc}",
            f"Give yourself write permission (chmod u+w '{target}'), free some disk space, "
            "or choose another folder with --registry PATH.",
        )
    where = str(folder) if target == folder else f"{folder} (to be created in {target})"
    return Check(name, Status.OK, f"{where} is writable")


def qt_platform_plugin(name: str = "xcb") -> Path | None:
    """The file of a Qt platform plugin, found without importing Qt."""
    spec = importlib.util.find_spec("PySide6")
    for base in list(spec.submodule_search_locations or []) if spec else []:
        candidate = Path(base) / "Qt" / "plugins" / "platforms" / f"libq{name}.so"
        if candidate.is_file():
            return candidate
    return None


def missing_libraries(binary: Path) -> list[str]:
    """Shared libraries a binary needs that the system lacks (``ldd``'s "not found")."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return []
    try:
        result = subprocess.run([ldd, str(binary)], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted(
        {line.split("=>")[0].strip() for line in result.stdout.splitlines() if "not found" in line}
    )


# The Debian package that provides each library the Qt platform plugins most often miss.
DEBIAN_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
}


def check_qt_platform() -> Check:
    """The X11 platform plugin finds its system libraries, and a display is there to use."""
    if not sys.platform.startswith("linux"):
        return Check("Qt platform", Status.OK, "not checked on this system")
    plugin = qt_platform_plugin("xcb")
    if plugin is None:
        return Check(
            "Qt platform",
            Status.PROBLEM,
            "the xcb platform plugin is missing",
            "Reinstall ModelDesk (or PySide6 in its environment).",
        )
    missing = missing_libraries(plugin)
    if missing:
        packages = sorted({DEBIAN_PACKAGES.get(lib, lib) for lib in missing})
        return Check(
            "Qt platform",
            Status.PROBLEM,
            f"the window cannot open: the system lacks {', '.join(missing)}",
            f"sudo apt install {' '.join(packages)}",
        )
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return Check(
            "Qt platform",
            Status.WARNING,
            "no display (DISPLAY and WAYLAND_DISPLAY are unset): only the command line works here",
            "Start ModelDesk from a desktop session to get the window.",
        )
    return Check("Qt platform", Status.OK, f"xcb plugin ready ({plugin.parent})")


def run_checks(registry: str | os.PathLike[str] | None = None) -> list[Check]:
    """Every check, in the order ``modeldesk doctor`` prints them."""
    from desktop_app.registry.paths import resolve_registry_path

    explicit = bool(registry or os.environ.get("MODELDESK_REGISTRY"))
    root = resolve_registry_path(registry)
    return [
        *check_registry(registry, explicit=explicit),
        check_writable("Registry folder", root),
        check_writable("Data folder", data_folder()),
        check_git(),
        check_ports(),
        check_qt_platform(),
    ]
