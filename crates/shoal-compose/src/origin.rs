//! Where keys came from: each file's table of key paths (dotted, list items by index) to
//! lines, and the locating of errors that name a key path as `file:line`.

use std::collections::BTreeMap;

use crate::error::Error;

/// `path.key`, or `key` at the root.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// A key's or list item's line, and its text when it holds a string (to find references).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mark {
    pub line: u64,
    pub text: Option<String>,
}

impl Mark {
    pub fn new(line: u64, text: Option<String>) -> Self {
        Mark { line, text }
    }
}

/// One compose file's key lines, as written (before interpolation and normalisation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileLines {
    file: String,
    marks: BTreeMap<String, Mark>,
}

impl FileLines {
    pub(crate) fn new(file: &str, marks: BTreeMap<String, Mark>) -> Self {
        FileLines {
            file: file.to_string(),
            marks,
        }
    }

    /// The file's name as given (what errors print).
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The line of the key or list item at `path`, if the file has it.
    pub fn line(&self, path: &str) -> Option<u64> {
        self.marks.get(path).map(|m| m.line)
    }

    #[cfg(test)]
    pub(crate) fn get(&self, path: &str) -> Option<&Mark> {
        self.marks.get(path)
    }

    /// The line of the item of the list at `path` that refers to `name` (`- name`,
    /// `- name:/target` for a volume, `- source: name`), or of the key `name` when the
    /// references are a mapping (`networks: {name: …}`).
    fn reference(&self, path: &str, name: &str) -> Option<u64> {
        if let Some(line) = self.line(&join(path, name)) {
            return Some(line);
        }
        let prefix = format!("{path}.");
        let names = |text: &Option<String>| {
            text.as_deref()
                .is_some_and(|t| t == name || t.split(':').next() == Some(name))
        };
        self.marks
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .find(|(p, m)| {
                let rest = &p[prefix.len()..];
                let item = rest.split('.').next().unwrap_or_default();
                item.parse::<usize>().is_ok()
                    && (rest == item || rest == format!("{item}.source"))
                    && names(&m.text)
            })
            .map(|(_, m)| m.line)
    }

    /// Wraps `e` in `file:line` when it names a key of this file (or one of its parents).
    pub(crate) fn locate(&self, e: Error) -> Error {
        locate_in(std::slice::from_ref(self), e)
    }
}

/// The key lines of every file of a load, in the order given (later files override).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins {
    files: Vec<FileLines>,
}

impl Origins {
    pub(crate) fn new(files: Vec<FileLines>) -> Self {
        Origins { files }
    }

    /// The file and line a key path came from: the last file that has it, else the nearest
    /// parent key that one has, else the last file's document.
    pub fn line_of(&self, path: &str) -> Option<(&str, u64)> {
        line_in(&self.files, path)
    }

    /// Wraps `e` in `file:line` when it names a key of one of the files.
    pub(crate) fn locate(&self, e: Error) -> Error {
        locate_in(&self.files, e)
    }
}

/// The line of `path`, else of its nearest parent, else of the document (a key that is
/// missing, like `version`, is still the file's).
fn line_in<'a>(files: &'a [FileLines], path: &str) -> Option<(&'a str, u64)> {
    let mut path = path;
    loop {
        // The later file wins a key both have, as in the merge.
        if let Some(hit) = files
            .iter()
            .rev()
            .find_map(|f| f.line(path).map(|l| (f.file(), l)))
        {
            return Some(hit);
        }
        path = match path.rsplit_once('.') {
            Some((parent, _)) => parent,
            None if !path.is_empty() => "",
            None => return None,
        };
    }
}

fn locate_in(files: &[FileLines], e: Error) -> Error {
    let found = match &e {
        Error::Undefined { path, name, .. } => files
            .iter()
            .rev()
            .find_map(|f| f.reference(path, name).map(|l| (f.file(), l)))
            .or_else(|| line_in(files, path)),
        other => other.key_path().and_then(|p| line_in(files, &p)),
    };
    match found {
        Some((file, line)) => Error::At {
            file: file.to_string(),
            line,
            error: Box::new(e),
        },
        None => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(file: &str, marks: &[(&str, u64, Option<&str>)]) -> FileLines {
        let marks = marks
            .iter()
            .map(|(p, l, t)| (p.to_string(), Mark::new(*l, t.map(str::to_string))))
            .collect();
        FileLines::new(file, marks)
    }

    #[test]
    fn later_file_and_nearest_parent_win() {
        let a = lines("a.yml", &[("services", 1, None), ("services.web", 2, None)]);
        let b = lines("b.yml", &[("services", 1, None), ("services.web", 5, None)]);
        let o = Origins::new(vec![a.clone(), b]);
        assert_eq!(
            o.line_of("services.web.deploy.replicas"),
            Some(("b.yml", 5))
        );
        assert_eq!(o.line_of("networks"), None);
        // A file's document line stands for a key it does not have.
        let c = lines("c.yml", &[("", 2, None), ("services", 2, None)]);
        let o = Origins::new(vec![c, a]);
        assert_eq!(o.line_of("services.db"), Some(("a.yml", 1)));
        assert_eq!(o.line_of("version"), Some(("c.yml", 2)));
    }

    #[test]
    fn references_in_lists_and_maps() {
        let f = lines(
            "f.yml",
            &[
                ("s.secrets", 3, None),
                ("s.secrets.0", 4, Some("a")),
                ("s.secrets.1", 5, None),
                ("s.secrets.1.source", 5, Some("b")),
                ("s.volumes.0", 7, Some("data:/d:ro")),
                ("s.networks.front", 9, None),
            ],
        );
        assert_eq!(f.reference("s.secrets", "a"), Some(4));
        assert_eq!(f.reference("s.secrets", "b"), Some(5));
        assert_eq!(f.reference("s.secrets", "c"), None);
        assert_eq!(f.reference("s.volumes", "data"), Some(7));
        assert_eq!(f.reference("s.networks", "front"), Some(9));
    }
}
