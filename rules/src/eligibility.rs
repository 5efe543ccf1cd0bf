//! `eligible = { .. }` compiled: each key is a comparison against facts computed once per ride.

use crate::date::LocalDate;
use crate::riders::{AttributeScalar, CompiledAttribute, RESIDENCE_NONE, RiderAttrs};

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
pub(crate) struct Facts<'r> {
    /// In the registry (for `visitor_of`).
    known: bool,
    /// Known and the evidence is still valid on that date: every key but `visitor_of` needs it.
    valid: bool,
    age: Option<u32>,
    grade: Option<i32>,
    residence: u32,
    license_returned: bool,
    disability: bool,
    /// The rider, for custom attributes (looked up only by rules that name one).
    rider: Option<&'r RiderAttrs>,
    day: LocalDate,
}

impl<'r> Facts<'r> {
    #[inline]
    pub(crate) fn of(rider: Option<&'r RiderAttrs>, day: LocalDate) -> Facts<'r> {
        let Some(rider) = rider else {
            return Facts {
                known: false,
                valid: false,
                age: None,
                grade: None,
                residence: RESIDENCE_NONE,
                license_returned: false,
                disability: false,
                rider: None,
                day,
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
            rider: Some(rider),
            day,
        }
    }

    /// The custom attribute `name` when its own evidence is still valid on the ride's date
    /// (the record's `valid_until` is checked with the other keys).
    fn attribute(&self, name: &str) -> Option<AttributeScalar> {
        let CompiledAttribute { value, valid_until } = *self.rider?.attribute(name)?;
        valid_until
            .is_none_or(|until| self.day <= until)
            .then_some(value)
    }

    /// `has = name`: the attribute is `true`.
    fn has(&self, name: &str) -> bool {
        self.attribute(name) == Some(AttributeScalar::Bool(true))
    }

    /// `since = { attribute, within_days }`: the attribute's date is on the ride's date or at
    /// most `within_days` days before it.
    fn since(&self, since: &Since) -> bool {
        let Some(AttributeScalar::Date(date)) = self.attribute(&since.attribute) else {
            return false;
        };
        let within = i32::try_from(since.within_days).expect("bounded by MAX_SINCE_WITHIN_DAYS");
        date <= self.day && date.add_days(within).is_some_and(|last| self.day <= last)
    }
}

/// `since = { attribute = "pregnancy_notice", within_days = 300 }`, compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Since {
    pub attribute: Box<str>,
    pub within_days: u32,
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
    /// A declared boolean custom attribute that must be true.
    pub has: Option<Box<str>>,
    pub since: Option<Since>,
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
            || self.has.is_some()
            || self.since.is_some()
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
            && self.has.as_deref().is_none_or(|name| facts.has(name))
            && self.since.as_ref().is_none_or(|since| facts.since(since))
    }
}
