"""The web page at / in a real browser (Debian's Chromium, driven by Selenium) against a
live server: the token, a search that shows the right name, the people list, an
enrolment. Skipped with the reason where Chromium, its driver or Selenium is absent."""
from __future__ import annotations

import shutil

import pytest

from tests.serve.conftest import Server, env, index, make_gallery, query_photo

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="Chromium and chromedriver are not installed "
                                "(apt-get install chromium chromium-driver)")
TOKEN = "page-token"


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1200,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=DRIVER))
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("page")
    db = tmp / "fs.db"
    index(make_gallery(tmp / "gallery"), db)
    server = Server(db, "--token", TOKEN, environ=env())
    yield server, tmp
    server.stop()


def people_rows(driver) -> dict:
    rows = driver.execute_script("return [...document.querySelectorAll('#people tbody tr')]"
                                 ".map(r => [r.cells[0].textContent, r.cells[1].textContent])")
    return dict(rows)


def choose_files(driver, element_id: str, paths) -> None:
    field = driver.find_element(By.ID, element_id)
    driver.execute_script("arguments[0].hidden = false;", field)
    field.send_keys("\n".join(str(p) for p in paths))


def test_page_searches_lists_and_enrols(browser, site):
    server, tmp = site
    wait = WebDriverWait(browser, 30)
    browser.get(server.url + "/")
    wait.until(lambda d: "token" in d.find_element(By.ID, "status").text)  # refused without the token
    token = browser.find_element(By.ID, "token")
    token.send_keys(TOKEN)
    browser.execute_script("arguments[0].dispatchEvent(new Event('change'))", token)
    wait.until(lambda d: people_rows(d) == {"alice": "2", "bob": "2", "carol": "2"})
    assert "3 identities, 6 photos" in browser.find_element(By.ID, "status").text

    choose_files(browser, "photo", [query_photo(tmp, 1)])
    wait.until(lambda d: d.find_element(By.ID, "faces").get_attribute("data-done") == "true")
    first = browser.find_element(By.CSS_SELECTOR, "#faces li.face")
    assert first.get_attribute("data-identity") == "bob"
    assert first.find_element(By.CSS_SELECTOR, ".identity").text == "bob"
    wait.until(lambda d: d.find_element(By.ID, "canvas").is_displayed())
    assert browser.find_element(By.ID, "search-error").text == ""

    browser.find_element(By.ID, "enrol-name").send_keys("dave")
    choose_files(browser, "enrol-photos", [query_photo(tmp, 9, rng_seed=1), query_photo(tmp, 9, rng_seed=2)])
    browser.find_element(By.CSS_SELECTOR, "#enrol button").click()
    wait.until(lambda d: people_rows(d).get("dave") == "2")
    assert "dave: 2 photos added" in browser.find_element(By.ID, "enrol-result").text

    choose_files(browser, "photo", [query_photo(tmp, 9, rng_seed=3)])
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#faces li.face").get_attribute("data-identity") == "dave")
    assert not browser.get_log("browser") or all(e["level"] != "SEVERE" for e in browser.get_log("browser"))
