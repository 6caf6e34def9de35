//! Everything ekstack prints goes through here: the plan as text or JSON,
//! progress while steps run, and summaries. Both plan renderers read the same
//! [`crate::plan::Plan`] value, so they cannot disagree.

pub mod plan;
pub mod progress;

/// Colour on or off, decided once.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub fn paint(&self, text: &str, f: impl Fn(console::StyledObject<&str>) -> console::StyledObject<&str>) -> String {
        if self.color {
            f(console::style(text)).force_styling(true).to_string()
        } else {
            text.to_string()
        }
    }
    pub fn green(&self, t: &str) -> String {
        self.paint(t, |s| s.green())
    }
    pub fn yellow(&self, t: &str) -> String {
        self.paint(t, |s| s.yellow())
    }
    pub fn red(&self, t: &str) -> String {
        self.paint(t, |s| s.red())
    }
    pub fn red_bold(&self, t: &str) -> String {
        self.paint(t, |s| s.red().bold())
    }
    pub fn bold(&self, t: &str) -> String {
        self.paint(t, |s| s.bold())
    }
    pub fn dim(&self, t: &str) -> String {
        self.paint(t, |s| s.dim())
    }
}

/// `1m05s`, `12.3s`.
pub fn duration(d: std::time::Duration) -> String {
    crate::resources::humantime(d)
}
