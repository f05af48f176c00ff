"""The browser benchmark's plain Python Selenium side: the standard workload written
the way a Selenium script is usually written (find, clear + send_keys, Select,
WebDriverWait with its defaults).

    python selenium_side.py PORTAL_URL ROWS.csv OUTPUT.csv

Uses Debian's chromedriver and the Chromium flags juru uses. Every WebDriver command
is counted by wrapping the driver's `execute` method. Prints
{"rows": N, "webdriver_commands": C}.
"""
import csv
import json
import os
import sys
import tempfile

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from chrome_flags import chrome_args

COUNT = {"n": 0}


def counting(execute):
    def wrapped(self, driver_command, params=None):
        COUNT["n"] += 1
        return execute(self, driver_command, params)

    return wrapped


def main():
    portal, rows_path, out_path = sys.argv[1:4]
    with open(rows_path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))

    profile = tempfile.mkdtemp(prefix="bench-selenium-")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in chrome_args(profile):
        options.add_argument(arg)
    options.unhandled_prompt_behavior = "ignore"
    service = Service(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    webdriver.Remote.execute = counting(webdriver.Remote.execute)
    driver = webdriver.Chrome(service=service, options=options)
    wait = WebDriverWait(driver, 10)

    driver.get(portal + "/login")
    driver.find_element(By.ID, "user").send_keys("petugas")
    driver.find_element(By.ID, "pass").send_keys("rahasia123")
    driver.find_element(By.CSS_SELECTOR, "input[value=Masuk]").click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "sambutan"), "Selamat datang"))

    with open(out_path, "w", newline="", encoding="utf-8") as out:
        w = csv.writer(out)
        w.writerow(["NIK", "Nomor Registrasi"])
        for row in rows:
            driver.get(portal + "/utama?hal=baru")
            wait.until(EC.frame_to_be_available_and_switch_to_it("main"))
            for field, column in [("nik", "NIK"), ("nama", "Nama Pemohon")]:
                e = driver.find_element(By.ID, field)
                e.clear()
                e.send_keys(row[column])
            Select(driver.find_element(By.ID, "jenis")).select_by_visible_text(row["Jenis Izin"])
            driver.find_element(
                By.CSS_SELECTOR, "input[name=skala][value='%s']" % row["Skala Usaha"]
            ).click()
            # The date field is read-only and filled by a calendar widget.
            driver.execute_script(
                "var h = document.getElementById('tanggal'); h.value = arguments[0]; h.onchange();",
                row["Tanggal Pengajuan"],
            )
            for field, column in [("alamat", "Alamat"), ("telepon", "Telepon")]:
                e = driver.find_element(By.ID, field)
                e.clear()
                e.send_keys(row[column])
            wait.until(EC.element_to_be_clickable((By.ID, "simpan"))).click()
            wait.until(EC.alert_is_present()).accept()
            wait.until(EC.presence_of_element_located((By.ID, "hasil-ok")))
            wait.until(EC.frame_to_be_available_and_switch_to_it("detail"))
            nomor = driver.find_element(By.ID, "no-reg").text
            driver.switch_to.default_content()
            w.writerow([row["NIK"], nomor])

    driver.quit()
    print(json.dumps({"rows": len(rows), "webdriver_commands": COUNT["n"]}))


if __name__ == "__main__":
    main()
