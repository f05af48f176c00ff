"""The Chromium flags juru's browser sessions use (src/browser/session.rs), shared by
the Python and Robot Framework sides of the browser benchmark."""
import os


def chrome_args(profile):
    args = ["--headless=new"]
    if os.geteuid() == 0:
        args.append("--no-sandbox")
    args += [
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-popup-blocking",
        "--disable-features=Translate,MediaRouter,OptimizationHints,DownloadBubble,DownloadBubbleV2",
        "--password-store=basic",
        "--window-size=1366,900",
        "--user-data-dir=" + profile,
    ]
    return args
