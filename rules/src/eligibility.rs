//! `eligible = { .. }` compiled: each key is a comparison against facts computed once per ride.

use crate::date::LocalDate;
use crate::riders::{RESIDENCE_NONE, RiderAttrs};

/// School stages by grade (spec: elementary 1–6, junior high 7–9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchoolStage {
    Elementary,
    JuniorHigh,
}

impl SchoolStage {
    fn grades(self) -> std::ops::RangeInclusive<i32> {
        match self {
            SchoolStage::Elementary => 1..=6,
            SchoolStage::JuniorHigh => 7..=9,
        }
    }
}

/// What a rider is on one local date. Built once per ride.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Facts {
    /// In the registry (for `visitor_of`).
    known: bool,
    /// Known and the evidence is still valid on that date: every key but `visitor_of` needs it.
    valid: bool,
    age: Option<u32>,
    grade: Option<i32>,
    residence: u32,
    license_returned: bool,
    disability: bool,
}

impl Facts {
    #[inline]
    pub(crate) fn of(rider: Option<&RiderAttrs>, day: LocalDate) -> Facts {
        let Some(rider) = rider else {
            return Facts {
                known: false,
                valid: false,
                age: None,
                grade: None,
                residence: RESIDENCE_NONE,
                license_returned: false,
                disability: false,
            };
        };
        Facts {
            known: true,
            valid: rider.valid_until.is_none_or(|until| day <= until),
            age: rider.birth_date.and_then(|b| b.age_on(day)),
            grade: rider.birth_date.map(|b| b.school_grade_on(day)),
            residence: rider.residence,
            license_returned: rider.license_returned_on.is_some_and(|on| on <= day),
            disability: rider.disability,
        }
    }
}

/// Every given key must hold; none given = everyone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Eligibility {
    pub min_age: Option<u32>,
    pub max_age: Option<u32>,
    pub resident_of: Option<u32>,
    pub visitor_of: Option<u32>,
    pub license_returned: Option<bool>,
    pub disability: Option<bool>,
    pub school_stage: Option<SchoolStage>,
}

impl Eligibility {
    /// True when a key other than `visitor_of` is given: those need valid evidence.
    fn needs_evidence(&self) -> bool {
        self.min_age.is_some()
            || self.max_age.is_some()
            || self.resident_of.is_some()
            || self.license_returned.is_some()
            || self.disability.is_some()
            || self.school_stage.is_some()
    }

    #[inline]
    pub(crate) fn holds(&self, facts: &Facts) -> bool {
        // Unknown riders are visitors; a known rider is judged by residence even if the
        // evidence has expired (only the other keys need valid evidence).
        if self
            .visitor_of
            .is_some_and(|code| facts.known && facts.residence == code)
        {
            return false;
        }
        if !self.needs_evidence() {
            return true;
        }
        if !facts.valid {
            return false;
        }
        let age_ok = |limit: Option<u32>, ok: fn(u32, u32) -> bool| match limit {
            None => true,
            Some(limit) => facts.age.is_some_and(|age| ok(age, limit)),
        };
        age_ok(self.min_age, |age, min| age >= min)
            && age_ok(self.max_age, |age, max| age <= max)
            && self.resident_of.is_none_or(|code| facts.residence == code)
            && self
                .license_returned
                .is_none_or(|wanted| facts.license_returned == wanted)
            && self
                .disability
                .is_none_or(|wanted| facts.disability == wanted)
            && self.school_stage.is_none_or(|stage| {
                facts
                    .grade
                    .is_some_and(|grade| stage.grades().contains(&grade))
            })
    }
}
