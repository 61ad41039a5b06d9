//! User names for uids, shared by the Unix backends: both ask getpwuid_r.

use std::ffi::CStr;
use std::sync::Mutex;

use crate::model::Text;

/// The user's name from the system's user database (NSS on Linux, the directory services
/// on macOS), or the uid as a number. Cached: list mode asks for the same few users once
/// per owner, and each lookup may go through NSS.
pub(crate) fn user_name(uid: u32) -> Text {
    static CACHE: Mutex<Vec<(u32, Text)>> = Mutex::new(Vec::new());
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, name)) = cache.iter().find(|(u, _)| *u == uid) {
        return name.clone();
    }
    let name = lookup_user(uid).unwrap_or_else(|| Text::from(uid.to_string()));
    cache.push((uid, name.clone()));
    name
}

/// getpwuid_r, growing the buffer as asked. The name comes from /etc/passwd, LDAP or
/// whatever NSS is configured with: bytes, not necessarily UTF-8.
fn lookup_user(uid: u32) -> Option<Text> {
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: passwd is plain data; getpwuid_r writes into `pwd` and `buf` only.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = unsafe {
            libc::getpwuid_r(
                uid,
                &mut pwd,
                buf.as_mut_ptr().cast::<libc::c_char>(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        // SAFETY: on success pw_name points to a NUL-terminated string inside `buf`.
        let name = unsafe { CStr::from_ptr(pwd.pw_name) };
        return Some(Text::from_bytes(name.to_bytes()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_root_and_falls_back_to_the_number() {
        assert_eq!(user_name(0), "root");
        assert_eq!(user_name(3_999_999_999), "3999999999");
    }
}
