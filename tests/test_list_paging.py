"""The pieces the long lists share: reading a page number someone typed, a
page that knows (or doesn't count) its total, and the filter bar's select
fields, written as WTForms writes them."""

from __future__ import annotations

import pytest
from wtforms import Form, SelectChoice, SelectField
from wtforms.validators import InputRequired

from webapp.contacts.forms import QuickSelect
from webapp.services.paging import MAX_PAGE, Page, page_number


@pytest.mark.parametrize(("value", "expected"), [
    (None, 1), ("", 1), ("1", 1), ("7", 7), (" 3 ", 3), ("0", 1), ("-2", 1), ("2.5", 1), ("abc", 1),
    ("٣", 1),  # an Arabic-Indic digit: a digit to Python, not a page number here
    ("99999999999999999999999999", MAX_PAGE), (12, 12),
])
def test_a_page_number_is_a_positive_whole_number_within_reason(value, expected):
    assert page_number(value) == expected


def test_a_counted_page_knows_its_neighbours():
    page = Page(items=list(range(25)), page=2, per_page=25, total=60)
    assert (page.first, page.last, page.pages) == (26, 50, 3)
    assert (page.has_prev, page.prev_num, page.has_next, page.next_num) == (True, 1, True, 3)
    last = Page(items=list(range(10)), page=3, per_page=25, total=60)
    assert (last.first, last.last, last.has_next, last.next_num) == (51, 60, False, None)
    empty = Page(items=[], page=1, per_page=25, total=0)
    assert (empty.first, empty.last, empty.pages, empty.has_prev, empty.has_next) == (0, 0, 0, False, False)


def test_an_uncounted_page_says_only_whether_more_follow():
    page = Page(items=list(range(25)), page=1, per_page=25, total=None, more=True)
    assert (page.pages, page.has_next, page.next_num, page.has_prev) == (None, True, 2, False)
    assert not Page(items=list(range(25)), page=4, per_page=25, total=None).has_next


CHOICES = [SelectChoice("", "Any"), SelectChoice("a", "<b>A & B</b>"), SelectChoice("3", "Three")]


class _Choices(Form):
    plain = SelectField("Plain", choices=CHOICES)
    quick = SelectField("Quick", choices=CHOICES, widget=QuickSelect())
    needed = SelectField("Needed", choices=[SelectChoice("x", "X")], validators=[InputRequired()], widget=QuickSelect())
    plain_needed = SelectField("Needed", choices=[SelectChoice("x", "X")], validators=[InputRequired()])


@pytest.mark.parametrize("chosen", ["", "a", "3", "nonsense"])
def test_a_quick_select_writes_the_same_markup_as_wtforms(chosen):
    form = _Choices(data={"plain": chosen, "quick": chosen})
    plain, quick = str(form.plain(**{"aria-label": "Pick"})), str(form.quick(**{"aria-label": "Pick"}))
    assert quick == plain.replace('id="plain" name="plain"', 'id="quick" name="quick"')
    assert "&lt;b&gt;A &amp; B&lt;/b&gt;" in quick and "<b>" not in quick
    assert str(form.needed()) == str(form.plain_needed()).replace("plain_needed", "needed")
