"""The SVG builders draw what they are given, say it in words, escape every text and fetch nothing."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from django.template import Context, Template

from alliance.clinic.practice.charts import Band, Panel, Reference, Series, Svg, line_chart, sparkline


def outcome_panel(name: str = "PHQ-9") -> Panel:
    return Panel(
        title="Outcome",
        y_label="Score",
        y_min=0,
        y_max=27,
        series=(
            Series(name, ((1, 18), (2, 15), (3, 9)), "#0b5cad"),
            Series("GAD-7", ((1, 12), (3, 6)), "#7a4b00", marker="square", dashed=True),
        ),
        bands=(Band(0, 5, "minimal", "#eeeeee"), Band(10, 15, "moderate", "#fdf3dc")),
        references=(Reference(10, "PHQ-9 caseness 10"),),
    )


def test_a_line_chart_is_well_formed_svg_with_title_desc_and_axis_labels() -> None:
    svg = line_chart(
        [outcome_panel()],
        title="Scores by session",
        description="PHQ-9 and GAD-7",
        x_label="Session",
        x_ticks=[(1, "1"), (2, "2"), (3, "3")],
        chart_id="c1",
    )
    root = ET.fromstring(svg)
    assert root.tag == "svg" and root.get("role") == "img"
    assert root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.find("title").get("id") == "c1-title"  # type: ignore[union-attr]
    assert root.findtext("title") == "Scores by session" and root.findtext("desc") == "PHQ-9 and GAD-7"
    texts = [t.text for t in root.iter("text")]
    assert {"Session", "Score", "Outcome", "PHQ-9 caseness 10", "minimal", "moderate", "1", "2", "3"} <= set(texts)


def test_points_lie_in_order_and_higher_values_are_drawn_higher() -> None:
    svg = line_chart(
        [outcome_panel()], title="t", description="d", x_label="Session", x_ticks=[(1, "1"), (2, "2"), (3, "3")]
    )
    root = ET.fromstring(svg)
    series = [g for g in root.iter("g") if g.get("class") == "series"]
    assert [g.get("aria-label") for g in series] == ["PHQ-9", "GAD-7"]
    phq9 = series[0]
    circles = phq9.findall("circle")
    assert [c.findtext("title") for c in circles] == ["PHQ-9 at 1: 18", "PHQ-9 at 2: 15", "PHQ-9 at 3: 9"]
    xs = [float(c.get("cx", "")) for c in circles]
    ys = [float(c.get("cy", "")) for c in circles]
    assert xs == sorted(xs) and ys == sorted(ys)  # lower scores sit lower on the page: larger y
    polyline = phq9.find("polyline")
    assert polyline is not None and len(polyline.get("points", "").split()) == 3
    gad7 = series[1]
    assert len(gad7.findall("rect")) == 2 and gad7.find("polyline").get("stroke-dasharray")  # type: ignore[union-attr]


def test_bands_and_reference_lines_sit_at_their_values() -> None:
    svg = line_chart([outcome_panel()], title="t", description="d", x_label="Session", x_ticks=[(1, "1"), (3, "3")])
    root = ET.fromstring(svg)
    bands = [r for r in root.iter("rect") if r.get("class") == "band"]
    assert [b.findtext("title") for b in bands] == ["minimal: 0–5", "moderate: 10–15"]
    reference = next(line for line in root.iter("line") if line.get("class") == "reference")
    moderate = bands[1]
    # the caseness line (10) is the lower edge of the moderate band (10-15)
    lower_edge = float(moderate.get("y", "")) + float(moderate.get("height", ""))
    assert float(reference.get("y1", "")) == pytest.approx(lower_edge, abs=0.15)  # one decimal per coordinate


def test_stacked_panels_share_one_x_axis() -> None:
    alliance = Panel("Alliance", "Mean", 0, 10, (Series("Client", ((1, 9), (3, 7)), "#1d6b35", marker="triangle"),))
    svg = line_chart(
        [outcome_panel(), alliance], title="t", description="d", x_label="Session", x_ticks=[(1, "1"), (3, "3")]
    )
    root = ET.fromstring(svg)
    assert [g.get("aria-label") for g in root.iter("g") if g.get("class") == "panel"] == ["Outcome", "Alliance"]
    circle_x = [float(c.get("cx", "")) for c in root.iter("circle") if "at 1:" in (c.findtext("title") or "")]
    triangle = next(p for p in root.iter("polygon") if (p.findtext("title") or "") == "Client at 1: 9")
    assert float(triangle.get("points", "").split()[0].split(",")[0]) == circle_x[0]
    assert [t.text for t in root.iter("text") if t.get("class") == "x-label"] == ["Session"]


def test_intervals_are_drawn_as_whiskers() -> None:
    series = Series("Alliance", ((1, 8.0), (2, 7.5)), "#1d6b35", intervals=((7.0, 9.0), (float("nan"), float("nan"))))
    svg = line_chart(
        [Panel("A", "Mean", 0, 10, (series,))],
        title="t",
        description="d",
        x_label="Month",
        x_ticks=[(1, "a"), (2, "b")],
    )
    whiskers = [p for p in ET.fromstring(svg).iter("path") if p.get("class") == "interval"]
    assert len(whiskers) == 1


def test_all_text_is_escaped() -> None:
    hostile = '<script>alert("x")</script> & co'
    svg = line_chart(
        [outcome_panel(name=hostile)], title=hostile, description=hostile, x_label=hostile, x_ticks=[(1, hostile)]
    )
    assert "<script>" not in svg
    root = ET.fromstring(svg)  # still well-formed
    assert root.findtext("title") == hostile
    assert hostile in [t.text for t in root.iter("text")]
    spark = sparkline([1, 2], minimum=0, maximum=3, label=hostile)
    assert "<script>" not in spark and ET.fromstring(spark).get("aria-label", "").startswith(hostile)


def test_no_namespace_url_no_style_attribute_no_script() -> None:
    svg = line_chart([outcome_panel()], title="t", description="d", x_label="x", x_ticks=[(1, "1")])
    spark = sparkline([3, 1], minimum=0, maximum=3, label="s")
    for markup in (svg, spark):
        assert "http://" not in markup and "https://" not in markup
        assert "style=" not in markup and "<script" not in markup


def test_an_empty_panel_says_so() -> None:
    svg = line_chart(
        [Panel("A", "Mean", 0, 10, (Series("x", (), "#000"),))], title="t", description="d", x_label="x", x_ticks=[]
    )
    assert "No scores yet" in [t.text for t in ET.fromstring(svg).iter("text")]


def test_a_sparkline_names_its_values_and_ends_on_the_latest() -> None:
    spark = sparkline([18, 15, 12], minimum=0, maximum=27, label="PHQ-9 trend", reference=10)
    root = ET.fromstring(spark)
    assert root.get("role") == "img" and root.get("aria-label") == "PHQ-9 trend: 18, 15, 12"
    points = root.find("polyline").get("points", "").split()  # type: ignore[union-attr]
    assert len(points) == 3
    ys = [float(p.split(",")[1]) for p in points]
    assert ys == sorted(ys)  # falling scores are drawn lower
    last = root.find("circle")
    assert last is not None and points[-1] == f"{last.get('cx')},{last.get('cy')}"
    assert root.find("line").get("stroke-dasharray")  # type: ignore[union-attr]


def test_a_sparkline_without_scores_says_so() -> None:
    root = ET.fromstring(sparkline([], minimum=0, maximum=10, label="Alliance"))
    assert root.get("aria-label") == "Alliance: no scores yet" and root.find("polyline") is None


def test_templates_insert_the_svg_unescaped_but_escape_plain_strings() -> None:
    spark = sparkline([1.5], minimum=0, maximum=3, label="x")
    assert isinstance(spark, Svg) and isinstance(spark, str)
    rendered = Template("{{ chart }}|{{ text }}").render(Context({"chart": spark, "text": "<svg>"}))
    assert rendered.startswith("<svg ") and rendered.endswith("|&lt;svg&gt;")
