"""ADF ↔ text: table-driven over the node shapes Jira Cloud sends (examples from Atlassian's
ADF structure reference), and the reply direction (hostile text stays literal)."""

from __future__ import annotations

from typing import Any

import pytest

from idqueue.integrations.jira.adf import from_text, to_text


def doc(*content: Any) -> dict[str, Any]:
    return {"type": "doc", "version": 1, "content": list(content)}


def para(*content: Any) -> dict[str, Any]:
    return {"type": "paragraph", "content": list(content)}


def t(text: str, *marks: dict[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": text}
    if marks:
        node["marks"] = list(marks)
    return node


def item(*content: Any) -> dict[str, Any]:
    return {"type": "listItem", "content": list(content)}


CASES: list[tuple[str, Any, str]] = [
    ("paragraphs", doc(para(t("Hello ")), para(t("world"))), "Hello\n\nworld"),
    ("marks other than links are dropped", doc(para(t("bold", {"type": "strong"}), t(" and "),
                                                 t("code", {"type": "code"}))), "bold and code"),
    ("heading", doc({"type": "heading", "attrs": {"level": 2}, "content": [t("Steps")]}, para(t("x"))),
     "Steps\n\nx"),
    ("hard break", doc(para(t("line 1"), {"type": "hardBreak"}, t("line 2"))), "line 1\nline 2"),
    ("bullet list", doc({"type": "bulletList", "content": [item(para(t("one"))), item(para(t("two")))]}),
     "- one\n- two"),
    ("ordered list with start", doc({"type": "orderedList", "attrs": {"order": 3},
                                     "content": [item(para(t("c"))), item(para(t("d")))]}), "3. c\n4. d"),
    ("nested list", doc({"type": "bulletList", "content": [
        item(para(t("outer")), {"type": "orderedList", "content": [item(para(t("inner")))]})]}),
     "- outer\n  1. inner"),
    ("code block", doc({"type": "codeBlock", "attrs": {"language": "python"},
                        "content": [t("print('hi')\nexit()")]}), "```\nprint('hi')\nexit()\n```"),
    ("mention with text", doc(para(t("cc "), {"type": "mention", "attrs": {
        "id": "5b10ac8d82e05b22cc7d4ef5", "text": "@Ana Reyes", "accessLevel": ""}})), "cc @Ana Reyes"),
    ("mention without text", doc(para({"type": "mention", "attrs": {"id": "abc"}})), "@abc"),
    ("link mark", doc(para(t("the runbook", {"type": "link", "attrs": {"href": "https://example.org/rb"}}))),
     "the runbook (https://example.org/rb)"),
    ("link mark on its own URL", doc(para(t("https://x.test/a", {"type": "link", "attrs": {"href": "https://x.test/a"}}))),
     "https://x.test/a"),
    ("inline card", doc(para(t("see "), {"type": "inlineCard", "attrs": {
        "url": "https://team.slack.com/archives/C0SUPPORT/p1712345678000100"}})),
     "see https://team.slack.com/archives/C0SUPPORT/p1712345678000100"),
    ("block card", doc({"type": "blockCard", "attrs": {"url": "https://x.test/b"}}), "https://x.test/b"),
    ("panel", doc({"type": "panel", "attrs": {"panelType": "info"}, "content": [para(t("Heads up"))]}), "Heads up"),
    ("emoji", doc(para(t("thanks "), {"type": "emoji", "attrs": {"shortName": ":smile:", "id": "1f604",
                                                                 "text": "😄"}})), "thanks 😄"),
    ("emoji without text", doc(para({"type": "emoji", "attrs": {"shortName": ":party:"}})), ":party:"),
    ("blockquote", doc({"type": "blockquote", "content": [para(t("quoted")), para(t("more"))]}),
     "> quoted\n>\n> more"),
    ("rule", doc(para(t("a")), {"type": "rule"}, para(t("b"))), "a\n\n---\n\nb"),
    ("table", doc({"type": "table", "attrs": {"isNumberColumnEnabled": False, "layout": "default"}, "content": [
        {"type": "tableRow", "content": [{"type": "tableHeader", "attrs": {}, "content": [para(t("Field"))]},
                                         {"type": "tableHeader", "attrs": {}, "content": [para(t("Value"))]}]},
        {"type": "tableRow", "content": [{"type": "tableCell", "attrs": {}, "content": [para(t("Email"))]},
                                         {"type": "tableCell", "attrs": {}, "content": [para(t("a@b.c"))]}]},
    ]}), "Field | Value\nEmail | a@b.c"),
    ("task list", doc({"type": "taskList", "attrs": {"localId": "x"}, "content": [
        {"type": "taskItem", "attrs": {"localId": "1", "state": "DONE"}, "content": [t("done")]},
        {"type": "taskItem", "attrs": {"localId": "2", "state": "TODO"}, "content": [t("todo")]}]}),
     "[x] done\n[ ] todo"),
    ("date", doc(para(t("due "), {"type": "date", "attrs": {"timestamp": "1710115200000"}})), "due 2024-03-11"),
    ("status", doc(para({"type": "status", "attrs": {"text": "BLOCKED", "color": "red"}})), "BLOCKED"),
    ("media", doc({"type": "mediaSingle", "attrs": {"layout": "center"}, "content": [
        {"type": "media", "attrs": {"id": "x", "type": "file", "collection": "", "alt": "screenshot.png"}}]}),
     "[attachment: screenshot.png]"),
    ("expand", doc({"type": "expand", "attrs": {"title": "Logs"}, "content": [para(t("trace"))]}), "Logs\ntrace"),
    ("unknown block with content", doc({"type": "futureBlock", "content": [para(t("inside"))]}), "inside"),
    ("unknown inline with text attr", doc(para({"type": "futureInline", "attrs": {"text": "label"}})), "label"),
    ("unknown leaf", doc({"type": "mystery"}), ""),
    ("malformed children", doc("not a node", None, 3, para(t("ok"), "junk", {"type": "text"})), "ok"),
    ("content not a list", {"type": "doc", "content": {"oops": 1}}, ""),
    ("None", None, ""),
    ("v2 wiki string", "h1. Title\n*bold*", "h1. Title\n*bold*"),
    ("a number", 42, ""),
]


@pytest.mark.parametrize(("adf", "expected"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_to_text(adf: Any, expected: str) -> None:
    assert to_text(adf) == expected


def test_deep_nesting_is_cut_not_a_crash() -> None:
    node: dict[str, Any] = para(t("bottom"))
    for _ in range(500):
        node = {"type": "blockquote", "content": [node]}
    assert "bottom" not in to_text(doc(node))


def test_from_text_paragraphs_breaks_and_links() -> None:
    adf = from_text("Hi Ana,\nsee https://example.org/a.\n\nThanks")
    assert adf == {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [
            {"type": "text", "text": "Hi Ana,"}, {"type": "hardBreak"}, {"type": "text", "text": "see "},
            {"type": "text", "text": "https://example.org/a", "marks": [{"type": "link", "attrs": {"href": "https://example.org/a"}}]},
            {"type": "text", "text": "."}]},
        {"type": "paragraph", "content": [{"type": "text", "text": "Thanks"}]},
    ]}


@pytest.mark.parametrize("hostile", [
    "<script>alert(1)</script>", "[click](javascript:alert(1))", "*bold* _it_ {color:red}x{color}",
    "[red]markup[/red] @here <!channel>", "javascript:alert(1)",
])
def test_from_text_keeps_hostile_text_literal(hostile: str) -> None:
    adf = from_text(hostile)
    nodes = adf["content"][0]["content"]
    assert all("marks" not in n for n in nodes)
    assert "".join(n["text"] for n in nodes) == hostile
    assert to_text(adf) == hostile


def test_round_trip() -> None:
    text = "Line one\nline two https://x.test/p?q=1\n\nSecond paragraph"
    assert to_text(from_text(text)) == text


def test_empty_text() -> None:
    assert from_text("  \n\n ") == {"type": "doc", "version": 1, "content": []}
