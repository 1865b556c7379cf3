"""People at their own browsers, and what a person does over and over in the admin, for the
walkthrough tests: pick a row in an autocomplete box, run a list action on some rows, read the
messages."""


def choose(page, field_id, search, option=None):
    """Type `search` into the autocomplete box of the field (its select's id) and click the
    suggestion that contains `option` (default: `search`)."""
    page.locator(f"#{field_id} + .select2").click()
    box = page.locator(".select2-container--open .select2-search__field")
    box.fill(search)
    page.locator(".select2-results__option", has_text=option or search).first.click()


def run_action(page, action, *row_labels):
    """On a change list: tick the rows whose text contains each label, run the action."""
    for label in row_labels:
        page.locator("#result_list tbody tr", has_text=label).locator("input.action-select").check()
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")
    page.wait_for_load_state()


def save(page, button="_save"):
    """Click a form's save button (_save, _continue, _addanother) and wait for the next page."""
    page.click(f"input[name={button}]")
    page.wait_for_load_state()


def messages(page):
    """The messages at the top of the page ("... was added successfully"), or else the form's
    errors, as one string."""
    page.wait_for_load_state()
    found = page.locator("ul.messagelist")
    if found.count():
        return found.inner_text()
    errors = page.locator(".errornote, .errorlist")
    return " | ".join(errors.all_inner_texts())


# Counts trusted clicks and picks in a <select> (which a script may make without a click).
CLICK_COUNTER = """
document.addEventListener("click", (event) => {
  if (event.isTrusted) { window.carshopCountClick(); }
}, true);
document.addEventListener("change", (event) => {
  if (event.target.tagName === "SELECT") { window.carshopCountClick(); }
}, true);
"""


class Person:
    """One person at their own browser: a fresh context (own cookies), a desktop screen or a
    phone. Every 4xx/5xx answer to the page's requests, console error and uncaught script error
    is collected; the `people` fixture fails the test on any that was not expected."""

    DESKTOP = {"viewport": {"width": 1366, "height": 768}}
    PHONE = {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
        "device_scale_factor": 3,
    }

    def __init__(self, browser, base_url, *, phone=False):
        self.base_url = base_url
        self.context = browser.new_context(
            base_url=base_url, **(self.PHONE if phone else self.DESKTOP)
        )
        self.page = self.context.new_page()
        self.page.set_default_timeout(15000)
        self.problems = []
        self.expected = set()
        self.page.on("response", self._on_response)
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda e: self.problems.append(f"script error: {e}"))
        # What the person did with the mouse, counted as a person would: each click on the
        # page, each option picked in a drop-down, each page opened from the menu (`go`).
        self.clicks = 0
        self.context.expose_binding("carshopCountClick", lambda _source: self._count_click())
        self.context.add_init_script(CLICK_COUNTER)

    def _on_response(self, response):
        if response.status >= 400:
            path = response.url.removeprefix(self.base_url)
            if (response.status, path) in self.expected:
                return
            self.problems.append(f"{response.status} {response.request.method} {path}")

    def _on_console(self, message):
        if message.type == "error":
            where = (message.location or {}).get("url", "").removeprefix(self.base_url)
            self.problems.append(f"console error at {where}: {message.text}")

    def expect_refusal(self, status, path):
        """A refusal the test itself provokes (a 403 for a page the role may not open)."""
        self.expected.add((status, path))

    def _count_click(self):
        self.clicks += 1

    def go(self, path):
        self.clicks += 1
        response = self.page.goto(path)
        self.page.wait_for_load_state()
        return response

    def log_in(self, username, password="s3cret-Pass-word"):
        self.go("/admin/login/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.page.click("input[type=submit]")
        self.page.wait_for_load_state()
        assert "/admin/login/" not in self.page.url, f"{username} could not log in"
        self.clicks = 0
        return self

    def text(self, selector="#content"):
        return self.page.locator(selector).inner_text()
