//! Per-day charts drawn on the server (plotters, SVG backend) and served
//! as `data:` images: the page's CSP allows no script and no inline style,
//! and an image needs neither.

use plotters::prelude::*;

const WIDTH: u32 = 720;
const HEIGHT: u32 = 260;
const BAR: RGBColor = RGBColor(0x0b, 0x6e, 0x99);
const LINE: RGBColor = RGBColor(0xc2, 0x41, 0x0c);

/// One value per day, oldest first; `None` where the day has none.
pub struct Series<'a> {
    pub title: &'a str,
    /// Labels under the x axis ("7 Dec").
    pub days: &'a [String],
    pub values: &'a [Option<f64>],
    /// What the y axis counts ("check-ins", "minutes").
    pub unit: &'a str,
}

fn top(values: &[Option<f64>]) -> f64 {
    let max = values.iter().flatten().fold(0.0_f64, |a, b| a.max(*b));
    // Room above the tallest bar, and never an empty axis.
    (max * 1.15).max(5.0).ceil()
}

/// Bars: how many per day.
pub fn bars(s: &Series) -> Result<String, String> {
    draw(s, |chart, s| {
        chart
            .draw_series(s.values.iter().enumerate().filter_map(|(i, v)| {
                let v = (*v)?;
                let x = i as f64;
                Some(Rectangle::new(
                    [(x + 0.15, 0.0), (x + 0.85, v)],
                    BAR.filled(),
                ))
            }))
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
}

/// A line with points: a measure per day (gaps where a day has none).
pub fn line(s: &Series) -> Result<String, String> {
    draw(s, |chart, s| {
        let points: Vec<(f64, f64)> = s
            .values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| Some((i as f64 + 0.5, (*v)?)))
            .collect();
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                LINE.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(points.iter().map(|p| Circle::new(*p, 3, LINE.filled())))
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
}

type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

fn draw(
    s: &Series,
    series: impl FnOnce(&mut Chart<'_, '_>, &Series) -> Result<(), String>,
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let n = s.days.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .caption(s.title, ("sans-serif", 18))
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0.0..n as f64, 0.0..top(s.values))
            .map_err(|e| e.to_string())?;
        let days = s.days;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n.min(8))
            .x_label_formatter(&|x| days.get(x.floor() as usize).cloned().unwrap_or_default())
            .y_desc(s.unit)
            .y_labels(5)
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()
            .map_err(|e| e.to_string())?;
        series(&mut chart, s)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_per_day_with_a_value_and_labels_from_the_days() {
        let days: Vec<String> = (1..=30).map(|d| format!("{d} Nov")).collect();
        let mut values = vec![None; 30];
        values[3] = Some(12.0);
        values[29] = Some(40.0);
        let svg = bars(&Series {
            title: "Check-ins per day",
            days: &days,
            values: &values,
            unit: "check-ins",
        })
        .unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("Check-ins per day"));
        assert!(svg.contains("1 Nov"), "day labels");
        // Two bars in the bar colour.
        assert_eq!(svg.matches("fill=\"#0B6E99\"").count(), 2, "{svg}");
        let l = line(&Series {
            title: "Median wait",
            days: &days,
            values: &values,
            unit: "minutes",
        })
        .unwrap();
        assert!(l.contains("<polyline") || l.contains("<path"), "a line");
    }
}
