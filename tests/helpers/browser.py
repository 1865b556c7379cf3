"""What a person does over and over in the admin, for the walkthrough tests: pick a row in an
autocomplete box, run a list action on some rows, read the messages."""


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
        page.locator("#result_list tbody tr", has_text=label).locator(
            "input.action-select").check()
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
