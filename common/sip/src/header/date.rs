//! The Date header (RFC 3261 §20.17): an RFC 1123 date that must be in GMT.

use std::fmt;

use crate::error::HeaderError;

const WKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `rfc1123-date = wkday "," SP date1 SP time SP "GMT"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipDate {
    /// Year (4 digits).
    pub year: u16,
    /// Month 1..=12.
    pub month: u8,
    /// Day 1..=31.
    pub day: u8,
    /// Hour 0..=23.
    pub hour: u8,
    /// Minute 0..=59.
    pub minute: u8,
    /// Second 0..=60 (leap second).
    pub second: u8,
    /// Weekday index, 0 = Monday.
    pub weekday: u8,
}

fn num(s: &str, len: usize, max: u16) -> Result<u16, HeaderError> {
    if s.len() != len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HeaderError::BadDate);
    }
    let v: u16 = s.parse().map_err(|_| HeaderError::BadDate)?;
    if v > max {
        return Err(HeaderError::BadDate);
    }
    Ok(v)
}

impl SipDate {
    /// Parses a Date value; any zone other than `GMT` is rejected (RFC 4475 §3.1.2.12).
    pub fn parse(s: &str) -> Result<SipDate, HeaderError> {
        let s = s.trim_matches([' ', '\t']);
        let (wk, rest) = s.split_once(", ").ok_or(HeaderError::BadDate)?;
        let weekday = WKDAYS
            .iter()
            .position(|d| *d == wk)
            .ok_or(HeaderError::BadDate)?;
        let parts: Vec<&str> = rest.split(' ').collect();
        let [day, month, year, time, zone] = parts.as_slice() else {
            return Err(HeaderError::BadDate);
        };
        if *zone != "GMT" {
            return Err(HeaderError::BadDate);
        }
        let month = MONTHS
            .iter()
            .position(|m| m == month)
            .ok_or(HeaderError::BadDate)?;
        let t: Vec<&str> = time.split(':').collect();
        let [h, m, sec] = t.as_slice() else {
            return Err(HeaderError::BadDate);
        };
        let day = num(day, 2, 31)?;
        if day == 0 {
            return Err(HeaderError::BadDate);
        }
        Ok(SipDate {
            year: num(year, 4, 9999)?,
            month: month as u8 + 1,
            day: day as u8,
            hour: num(h, 2, 23)? as u8,
            minute: num(m, 2, 59)? as u8,
            second: num(sec, 2, 60)? as u8,
            weekday: weekday as u8,
        })
    }
}

impl fmt::Display for SipDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let wk = WKDAYS
            .get(usize::from(self.weekday))
            .copied()
            .unwrap_or("Mon");
        let mon = MONTHS
            .get(usize::from(self.month.saturating_sub(1)))
            .copied()
            .unwrap_or("Jan");
        write!(
            f,
            "{wk}, {:02} {mon} {:04} {:02}:{:02}:{:02} GMT",
            self.day, self.year, self.hour, self.minute, self.second
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmt_only() {
        let d = SipDate::parse("Sat, 15 Oct 2005 04:44:56 GMT").unwrap();
        assert_eq!((d.year, d.month, d.day, d.hour), (2005, 10, 15, 4));
        assert_eq!(d.to_string(), "Sat, 15 Oct 2005 04:44:56 GMT");
        assert_eq!(
            SipDate::parse("Fri, 01 Jan 2010 16:00:00 EST"),
            Err(HeaderError::BadDate)
        );
        assert_eq!(
            SipDate::parse("Fri, 1 Jan 2010 16:00:00 GMT"),
            Err(HeaderError::BadDate)
        );
        assert_eq!(
            SipDate::parse("Fri, 01 Foo 2010 16:00:00 GMT"),
            Err(HeaderError::BadDate)
        );
    }
}
