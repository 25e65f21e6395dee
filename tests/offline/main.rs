//! What needs no recording of its own, in one test binary (one link, not five): the report's
//! formats on fixed data (golden files, JSON round trips, a real CSV reader, the HTML page in
//! headless Chromium), the layout's rules (file sizes, import cycles), health checks and
//! custom metrics (each with names of its own in their process-wide registries).

#[path = "../common/chromium.rs"]
mod chromium;
#[path = "../common/mod.rs"]
mod common;

mod architecture;
mod custom_metrics;
mod health;
mod report_formats;
mod report_html;
