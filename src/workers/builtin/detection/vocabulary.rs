//! Which detections matter: Rekognition's connected-home vocabulary (`PERSON`, `PET`, `PACKAGE`,
//! `ALL`) plus `VEHICLE`, `ANIMAL` and `FACE`, mapped onto the detector's label names (COCO's, or
//! those of a model brought by the user), and a stream's selection of them with a minimum
//! confidence. Pure: no I/O, no model.

/// The label name faces are reported under.
pub const FACE: &str = "face";

/// A connected-home category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// `person`.
    Person,
    /// Household pets: `cat`, `dog`, `bird`.
    Pet,
    /// Other animals of COCO (`horse`, `sheep`, `cow`, `elephant`, `bear`, `zebra`, `giraffe`);
    /// pets are animals too.
    Animal,
    /// `bicycle`, `car`, `motorcycle`, `airplane`, `bus`, `train`, `truck`, `boat`.
    Vehicle,
    /// COCO has no "package": `suitcase`, `backpack` and `handbag` are the closest things left at
    /// a door.
    Package,
    /// A face (the face detector).
    Face,
    /// Any other label of the model.
    Other,
}

impl Category {
    /// The category of a label name (case-insensitive; unknown names are [`Category::Other`]).
    pub fn of(label: &str) -> Self {
        match label.to_ascii_lowercase().as_str() {
            "person" => Self::Person,
            "cat" | "dog" | "bird" => Self::Pet,
            "horse" | "sheep" | "cow" | "elephant" | "bear" | "zebra" | "giraffe" => Self::Animal,
            "bicycle" | "car" | "motorcycle" | "airplane" | "bus" | "train" | "truck" | "boat" => {
                Self::Vehicle
            }
            "suitcase" | "backpack" | "handbag" => Self::Package,
            FACE => Self::Face,
            _ => Self::Other,
        }
    }

    /// Its name in configuration, tags and events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Person => "PERSON",
            Self::Pet => "PET",
            Self::Animal => "ANIMAL",
            Self::Vehicle => "VEHICLE",
            Self::Package => "PACKAGE",
            Self::Face => "FACE",
            Self::Other => "OTHER",
        }
    }
}

/// A stream's selection: which categories (or every label) and the lowest confidence, 0..=100.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    all: bool,
    categories: Vec<Category>,
    /// The lowest confidence reported, percent.
    pub min_confidence: f64,
}

/// A selection word that is not part of the vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown detection label {0:?} (expected PERSON, PET, ANIMAL, VEHICLE, PACKAGE, FACE or ALL)")]
pub struct UnknownLabel(pub String);

impl Selection {
    /// Parses a list of words (`PERSON`, `PET`, …, `ALL`; case-insensitive) and a minimum
    /// confidence in percent (clamped to 0..=100).
    pub fn parse<S: AsRef<str>>(words: &[S], min_confidence: f64) -> Result<Self, UnknownLabel> {
        let mut all = false;
        let mut categories = Vec::new();
        for w in words {
            let w = w.as_ref().trim();
            if w.is_empty() {
                continue;
            }
            let c = match w.to_ascii_uppercase().as_str() {
                "ALL" => {
                    all = true;
                    continue;
                }
                "PERSON" => Category::Person,
                "PET" => Category::Pet,
                "ANIMAL" => Category::Animal,
                "VEHICLE" => Category::Vehicle,
                "PACKAGE" => Category::Package,
                "FACE" => Category::Face,
                _ => return Err(UnknownLabel(w.to_owned())),
            };
            if !categories.contains(&c) {
                categories.push(c);
            }
        }
        Ok(Self { all, categories, min_confidence: min_confidence.clamp(0.0, 100.0) })
    }

    /// Parses a comma-separated list (a tag value).
    pub fn parse_list(list: &str, min_confidence: f64) -> Result<Self, UnknownLabel> {
        Self::parse(&list.split(',').collect::<Vec<_>>(), min_confidence)
    }

    /// Whether a label found with `confidence` (percent) is reported.
    pub fn matches(&self, label: &str, confidence: f64) -> bool {
        if confidence < self.min_confidence {
            return false;
        }
        if self.all {
            return true;
        }
        let c = Category::of(label);
        self.categories.contains(&c) || (c == Category::Pet && self.categories.contains(&Category::Animal))
    }

    /// Whether anything is selected at all.
    pub fn is_empty(&self) -> bool {
        !self.all && self.categories.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_follow_coco_names() {
        assert_eq!(Category::of("person"), Category::Person);
        assert_eq!(Category::of("Cat"), Category::Pet);
        assert_eq!(Category::of("truck"), Category::Vehicle);
        assert_eq!(Category::of("suitcase"), Category::Package);
        assert_eq!(Category::of("face"), Category::Face);
        assert_eq!(Category::of("cup"), Category::Other);
    }

    #[test]
    fn a_selection_filters_by_category_and_confidence() {
        let s = Selection::parse_list("person, pet", 50.0).unwrap();
        assert!(s.matches("person", 60.0));
        assert!(!s.matches("person", 40.0), "below the minimum");
        assert!(s.matches("dog", 90.0));
        assert!(!s.matches("car", 90.0));
        assert!(!s.matches("cup", 90.0));
        let animals = Selection::parse_list("ANIMAL", 0.0).unwrap();
        assert!(animals.matches("cat", 1.0) && animals.matches("zebra", 1.0), "pets are animals");
        let all = Selection::parse_list("ALL", 30.0).unwrap();
        assert!(all.matches("cup", 31.0) && !all.matches("cup", 29.0));
        assert!(Selection::parse_list("", 0.0).unwrap().is_empty());
        assert_eq!(Selection::parse_list("PERSON,PARCEL", 0.0), Err(UnknownLabel("PARCEL".into())));
    }
}
