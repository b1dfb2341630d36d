//! Small inline-SVG charts: stacked areas and lines over time, with axes and a legend.
//! Drawn here rather than with a charting library so the report stays one self-contained file.

use std::fmt::Write as _;

/// Colours for series, in order (colour-blind friendly palette).
pub const PALETTE: &[&str] = &[
    "#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377", "#bbbbbb", "#332288",
    "#117733", "#882255",
];

const WIDTH: f64 = 920.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 64.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 34.0;
const GRID_STEPS: u32 = 5;

/// One named series of y values (one per x).
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend name.
    pub name: String,
    /// Values, aligned with the chart's xs.
    pub values: Vec<f64>,
    /// Stroke/fill colour.
    pub color: String,
    /// Dashed line (for secondary series).
    pub dashed: bool,
}

impl Series {
    /// A solid series with the palette colour at `index`.
    pub fn new(name: impl Into<String>, values: Vec<f64>, index: usize) -> Self {
        Self {
            name: name.into(),
            values,
            color: PALETTE[index % PALETTE.len()].to_owned(),
            dashed: false,
        }
    }

    /// Builder: dashed.
    pub fn dashed(mut self) -> Self {
        self.dashed = true;
        self
    }
}

/// A span of the x axis to shade (or, when `from == until`, a vertical line), e.g. an outage.
#[derive(Clone, Debug, PartialEq)]
pub struct Shade {
    /// Start, hours.
    pub from: f64,
    /// End, hours.
    pub until: f64,
    /// Fill (or line) colour.
    pub color: &'static str,
    /// Tooltip.
    pub label: String,
}

/// Draws `shades` inside the plot area (behind the series).
fn shades(out: &mut String, frame: &Frame, shades: &[Shade]) {
    let top = TOP;
    let bottom = HEIGHT - BOTTOM;
    for s in shades {
        let from = s.from.clamp(0.0, frame.x_max);
        let until = s.until.clamp(0.0, frame.x_max);
        if s.until < 0.0 || s.from > frame.x_max {
            continue;
        }
        let (x1, x2) = (frame.px(from), frame.px(until));
        if x2 - x1 < 1.0 {
            let _ = write!(
                out,
                r#"<line x1="{x1:.1}" y1="{top}" x2="{x1:.1}" y2="{bottom}" stroke="{}" stroke-width="1.5" stroke-dasharray="3 2"><title>{}</title></line>"#,
                s.color,
                escape(&s.label)
            );
        } else {
            let _ = write!(
                out,
                r#"<rect x="{x1:.1}" y="{top}" width="{:.1}" height="{:.1}" fill="{}" fill-opacity="0.14"><title>{}</title></rect>"#,
                x2 - x1,
                bottom - top,
                s.color,
                escape(&s.label)
            );
        }
    }
}

/// Escapes text for HTML and SVG.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A "nice" axis maximum at or above `v` (1, 2, 2.5, 5 × 10^n).
pub fn nice_max(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * mag)
}

fn fmt_num(v: f64) -> String {
    if v.abs() >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

struct Frame {
    x_max: f64,
    y_max: f64,
    y2_max: Option<f64>,
}

impl Frame {
    fn px(&self, x: f64) -> f64 {
        LEFT + x / self.x_max.max(1e-9) * (WIDTH - LEFT - RIGHT)
    }
    fn py(&self, y: f64, max: f64) -> f64 {
        HEIGHT - BOTTOM - y / max.max(1e-9) * (HEIGHT - TOP - BOTTOM)
    }

    fn axes(&self, out: &mut String, y_label: &str, y2_label: Option<&str>) {
        let bottom = HEIGHT - BOTTOM;
        let right = WIDTH - RIGHT;
        // Five steps: every nice maximum (1, 2, 2.5, 5 × 10^n) divides into readable ticks.
        for i in 0..=GRID_STEPS {
            let v = self.y_max * f64::from(i) / f64::from(GRID_STEPS);
            let y = self.py(v, self.y_max);
            let _ = write!(
                out,
                r##"<line x1="{LEFT}" y1="{y:.1}" x2="{right}" y2="{y:.1}" stroke="#e3e3e3"/><text x="{:.1}" y="{:.1}" text-anchor="end" class="ax">{}</text>"##,
                LEFT - 6.0,
                y + 4.0,
                fmt_num(v)
            );
            if let Some(m) = self.y2_max {
                let _ = write!(
                    out,
                    r#"<text x="{:.1}" y="{:.1}" class="ax">{}</text>"#,
                    right + 6.0,
                    y + 4.0,
                    fmt_num(m * f64::from(i) / f64::from(GRID_STEPS))
                );
            }
        }
        let step = hour_step(self.x_max);
        let mut h = 0.0;
        while h <= self.x_max + 1e-9 {
            let x = self.px(h);
            let _ = write!(
                out,
                r##"<line x1="{x:.1}" y1="{bottom}" x2="{x:.1}" y2="{:.1}" stroke="#888"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" class="ax">{}</text>"##,
                bottom + 4.0,
                bottom + 16.0,
                hour_label(h)
            );
            h += step;
        }
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#888"/><text x="12" y="{:.1}" transform="rotate(-90 12 {:.1})" text-anchor="middle" class="ax">{}</text>"##,
            HEIGHT / 2.0,
            HEIGHT / 2.0,
            escape(y_label)
        );
        if let Some(label) = y2_label {
            let x = WIDTH - 8.0;
            let _ = write!(
                out,
                r#"<text x="{x}" y="{:.1}" transform="rotate(90 {x} {:.1})" text-anchor="middle" class="ax">{}</text>"#,
                HEIGHT / 2.0,
                HEIGHT / 2.0,
                escape(label)
            );
        }
    }
}

fn hour_step(x_max: f64) -> f64 {
    match x_max {
        m if m <= 2.0 => 0.25,
        m if m <= 6.0 => 1.0,
        m if m <= 30.0 => 2.0,
        m if m <= 96.0 => 12.0,
        _ => 24.0,
    }
}

fn hour_label(h: f64) -> String {
    let mins = (h * 60.0).round() as i64;
    format!("{:02}:{:02}", mins / 60, mins % 60)
}

fn open(out: &mut String) {
    let _ = write!(
        out,
        r#"<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" xmlns="http://www.w3.org/2000/svg">"#
    );
}

fn legend(series: &[&Series]) -> String {
    let mut out = String::from(r#"<div class="legend">"#);
    for s in series {
        let style = if s.dashed { "border-style:dashed" } else { "" };
        let _ = write!(
            out,
            r#"<span><i style="background:{};{style}"></i>{}</span>"#,
            s.color,
            escape(&s.name)
        );
    }
    out.push_str("</div>");
    out
}

/// Stacked areas of `series` over `xs` (hours).
pub fn stacked_area(xs: &[f64], series: &[Series], y_label: &str) -> String {
    stacked_area_shaded(xs, series, y_label, &[])
}

/// [`stacked_area`] over shaded spans of time.
pub fn stacked_area_shaded(
    xs: &[f64],
    series: &[Series],
    y_label: &str,
    shaded: &[Shade],
) -> String {
    let n = xs.len();
    // Running sums: tops[i] is the upper edge of series i.
    let mut tops: Vec<Vec<f64>> = Vec::with_capacity(series.len());
    for s in series {
        let below = tops.last().cloned().unwrap_or_else(|| vec![0.0; n]);
        let top = below
            .iter()
            .enumerate()
            .map(|(j, b)| b + s.values.get(j).copied().unwrap_or(0.0))
            .collect();
        tops.push(top);
    }
    let y_max = nice_max(
        tops.last()
            .map_or(0.0, |t| t.iter().copied().fold(0.0, f64::max)),
    );
    let frame = Frame {
        x_max: xs.last().copied().unwrap_or(1.0),
        y_max,
        y2_max: None,
    };
    let mut out = String::new();
    open(&mut out);
    frame.axes(&mut out, y_label, None);
    shades(&mut out, &frame, shaded);
    for (i, s) in series.iter().enumerate() {
        let mut pts = String::new();
        for (x, top) in xs.iter().zip(&tops[i]) {
            let _ = write!(pts, "{:.1},{:.1} ", frame.px(*x), frame.py(*top, y_max));
        }
        let zeros = vec![0.0; n];
        let below = if i == 0 { &zeros } else { &tops[i - 1] };
        for (x, b) in xs.iter().zip(below).rev() {
            let _ = write!(pts, "{:.1},{:.1} ", frame.px(*x), frame.py(*b, y_max));
        }
        let _ = write!(
            out,
            r#"<polygon points="{}" fill="{}" fill-opacity="0.85" stroke="none"><title>{}</title></polygon>"#,
            pts.trim_end(),
            s.color,
            escape(&s.name)
        );
    }
    out.push_str("</svg>");
    out + &legend(&series.iter().collect::<Vec<_>>())
}

/// Lines of `left` series (left axis) and optionally `right` series (own right axis).
pub fn lines(
    xs: &[f64],
    left: &[Series],
    y_label: &str,
    right: &[Series],
    y2_label: Option<&str>,
) -> String {
    lines_shaded(xs, left, y_label, right, y2_label, &[])
}

/// [`lines`] over shaded spans of time.
pub fn lines_shaded(
    xs: &[f64],
    left: &[Series],
    y_label: &str,
    right: &[Series],
    y2_label: Option<&str>,
    shaded: &[Shade],
) -> String {
    let max_of = |ss: &[Series]| {
        ss.iter()
            .flat_map(|s| s.values.iter().copied())
            .fold(0.0, f64::max)
    };
    let y_max = nice_max(max_of(left));
    let y2_max = (!right.is_empty()).then(|| nice_max(max_of(right)));
    let frame = Frame {
        x_max: xs.last().copied().unwrap_or(1.0),
        y_max,
        y2_max,
    };
    let mut out = String::new();
    open(&mut out);
    frame.axes(&mut out, y_label, y2_label.filter(|_| y2_max.is_some()));
    shades(&mut out, &frame, shaded);
    let sides = left
        .iter()
        .map(|s| (s, y_max))
        .chain(right.iter().map(|s| (s, y2_max.unwrap_or(1.0))));
    for (s, max) in sides {
        let mut pts = String::new();
        for (x, y) in xs.iter().zip(&s.values) {
            let _ = write!(pts, "{:.1},{:.1} ", frame.px(*x), frame.py(*y, max));
        }
        let dash = if s.dashed {
            r#" stroke-dasharray="5 3""#
        } else {
            ""
        };
        let _ = write!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="1.6"{dash}><title>{}</title></polyline>"#,
            pts.trim_end(),
            s.color,
            escape(&s.name)
        );
    }
    out.push_str("</svg>");
    out + &legend(&left.iter().chain(right).collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_max_rounds_up_to_a_readable_value() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(230.0), 250.0);
        assert_eq!(nice_max(260.0), 500.0);
        assert_eq!(nice_max(1.0), 1.0);
    }

    #[test]
    fn escape_handles_markup() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn charts_are_svg_with_one_shape_per_series() {
        let xs = vec![0.0, 1.0, 2.0];
        let s = vec![
            Series::new("a", vec![1.0, 2.0, 3.0], 0),
            Series::new("b<", vec![1.0, 1.0, 1.0], 1),
        ];
        let area = stacked_area(&xs, &s, "nodes");
        assert!(area.starts_with("<svg"));
        assert_eq!(area.matches("<polygon").count(), 2);
        assert!(area.contains("b&lt;"));
        let l = lines(&xs, &s[..1], "replicas", &s[1..], Some("load"));
        assert_eq!(l.matches("<polyline").count(), 2);
    }

    #[test]
    fn shades_are_spans_or_lines_inside_the_plot() {
        let xs = vec![0.0, 1.0, 2.0];
        let s = vec![Series::new("a", vec![1.0, 2.0, 3.0], 0)];
        let shade = |from: f64, until: f64| Shade {
            from,
            until,
            color: "#cc3311",
            label: format!("w{from}"),
        };
        let shaded = [
            shade(0.5, 1.0),
            shade(1.5, 1.5),
            shade(5.0, 6.0),
            shade(-1.0, 0.25),
        ];
        let l = lines_shaded(&xs, &s, "y", &[], None, &shaded);
        assert_eq!(l.matches("<rect").count(), 2, "{l}");
        assert!(l.contains("<title>w0.5</title></rect>"));
        assert!(l.contains("stroke-dasharray=\"3 2\"><title>w1.5</title></line>"));
        assert!(!l.contains("w5"), "outside the chart");
        // Shades come before the series, so they stay behind them.
        assert!(l.find("<rect") < l.find("<polyline"), "{l}");
        let a = stacked_area_shaded(&xs, &s, "y", &shaded[..1]);
        assert_eq!(a.matches("<rect").count(), 1);
    }
}
