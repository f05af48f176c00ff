"""Keywords the browser benchmark's Robot Framework side needs beyond
SeleniumLibrary: Chrome options with juru's flags, reading the rows, and counting
WebDriver commands (by wrapping the driver's `execute` method)."""
import csv
import json
import tempfile

from selenium import webdriver

from chrome_flags import chrome_args

COUNT = {"n": 0}
_execute = webdriver.Remote.execute


def _counting(self, driver_command, params=None):
    COUNT["n"] += 1
    return _execute(self, driver_command, params)


webdriver.Remote.execute = _counting


def chrome_options():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in chrome_args(tempfile.mkdtemp(prefix="bench-robot-")):
        options.add_argument(arg)
    options.unhandled_prompt_behavior = "ignore"
    return options


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_stats(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"rows": len(rows), "webdriver_commands": COUNT["n"]}, f)
