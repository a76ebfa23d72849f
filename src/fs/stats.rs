//! `fs.Stats`: what `stat` and `lstat` say about a file.

use std::os::unix::fs::MetadataExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The file-type bits of `mode` (POSIX's `S_IFMT` and its values, the same
/// on every Unix; named here since the standard library does not export
/// them).
const S_IFMT: u32 = 0o170_000;
const S_IFSOCK: u32 = 0o140_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFREG: u32 = 0o100_000;
const S_IFBLK: u32 = 0o060_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFCHR: u32 = 0o020_000;
const S_IFIFO: u32 = 0o010_000;

/// What [`stat`](super::stat) and [`lstat`](super::lstat) report (Node's
/// `fs.Stats`): the same fields under the same names, times as
/// [`SystemTime`].
///
/// ```no_run
/// nodelike::fs::stat("Cargo.toml", |stats| {
///     let stats = stats.unwrap();
///     assert!(stats.is_file() && !stats.is_directory());
///     println!("{} bytes, mode {:o}, modified {:?}", stats.size, stats.mode, stats.mtime);
/// });
/// nodelike::run();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// The device the file is on (`dev`).
    pub dev: u64,
    /// The inode number (`ino`).
    pub ino: u64,
    /// The file type and permission bits (`mode`, as `st_mode`).
    pub mode: u32,
    /// The number of hard links (`nlink`).
    pub nlink: u64,
    /// The owner's user id (`uid`).
    pub uid: u32,
    /// The owner's group id (`gid`).
    pub gid: u32,
    /// The device a special file stands for (`rdev`).
    pub rdev: u64,
    /// The size in bytes (`size`).
    pub size: u64,
    /// The block size for I/O (`blksize`).
    pub blksize: u64,
    /// The number of 512-byte blocks allocated (`blocks`).
    pub blocks: u64,
    /// Last access (`atime`).
    pub atime: SystemTime,
    /// Last change of the contents (`mtime`).
    pub mtime: SystemTime,
    /// Last change of the inode: contents, owner, mode (`ctime`).
    pub ctime: SystemTime,
    /// Creation (`birthtime`); the epoch where the file system does not
    /// record it, as libuv reports it then.
    pub birthtime: SystemTime,
}

impl Stats {
    /// The fields of `metadata`, as libuv fills them.
    pub(super) fn from_metadata(m: &std::fs::Metadata) -> Stats {
        Stats {
            dev: m.dev(),
            ino: m.ino(),
            mode: m.mode(),
            nlink: m.nlink(),
            uid: m.uid(),
            gid: m.gid(),
            rdev: m.rdev(),
            size: m.size(),
            blksize: m.blksize(),
            blocks: m.blocks(),
            atime: time(m.atime(), m.atime_nsec()),
            mtime: time(m.mtime(), m.mtime_nsec()),
            ctime: time(m.ctime(), m.ctime_nsec()),
            birthtime: m.created().unwrap_or(UNIX_EPOCH),
        }
    }

    fn file_type(&self) -> u32 {
        self.mode & S_IFMT
    }

    /// A regular file (Node's `isFile()`).
    ///
    /// ```no_run
    /// nodelike::fs::stat("Cargo.toml", |s| assert!(s.unwrap().is_file()));
    /// nodelike::run();
    /// ```
    #[doc(alias = "isFile")]
    pub fn is_file(&self) -> bool {
        self.file_type() == S_IFREG
    }

    /// A directory (Node's `isDirectory()`).
    ///
    /// ```no_run
    /// nodelike::fs::stat("/", |s| assert!(s.unwrap().is_directory()));
    /// nodelike::run();
    /// ```
    #[doc(alias = "isDirectory")]
    pub fn is_directory(&self) -> bool {
        self.file_type() == S_IFDIR
    }

    /// A symbolic link (Node's `isSymbolicLink()`): only [`lstat`](super::lstat)
    /// reports one, since `stat` follows links.
    ///
    /// ```no_run
    /// nodelike::fs::lstat("/proc/self", |s| assert!(s.unwrap().is_symbolic_link()));
    /// nodelike::run();
    /// ```
    #[doc(alias = "isSymbolicLink")]
    pub fn is_symbolic_link(&self) -> bool {
        self.file_type() == S_IFLNK
    }

    /// A named pipe (Node's `isFIFO()`).
    ///
    /// ```no_run
    /// nodelike::fs::stat("/tmp/some.fifo", |s| println!("{}", s.unwrap().is_fifo()));
    /// nodelike::run();
    /// ```
    #[doc(alias = "isFIFO")]
    pub fn is_fifo(&self) -> bool {
        self.file_type() == S_IFIFO
    }

    /// A unix socket (Node's `isSocket()`).
    ///
    /// ```no_run
    /// nodelike::fs::stat("/run/some.sock", |s| println!("{}", s.unwrap().is_socket()));
    /// nodelike::run();
    /// ```
    #[doc(alias = "isSocket")]
    pub fn is_socket(&self) -> bool {
        self.file_type() == S_IFSOCK
    }

    /// A block device (Node's `isBlockDevice()`).
    ///
    /// ```no_run
    /// nodelike::fs::stat("/dev/sda", |s| println!("{}", s.unwrap().is_block_device()));
    /// nodelike::run();
    /// ```
    #[doc(alias = "isBlockDevice")]
    pub fn is_block_device(&self) -> bool {
        self.file_type() == S_IFBLK
    }

    /// A character device (Node's `isCharacterDevice()`).
    ///
    /// ```no_run
    /// nodelike::fs::stat("/dev/null", |s| assert!(s.unwrap().is_character_device()));
    /// nodelike::run();
    /// ```
    #[doc(alias = "isCharacterDevice")]
    pub fn is_character_device(&self) -> bool {
        self.file_type() == S_IFCHR
    }
}

/// A `stat` time (seconds and nanoseconds around the epoch) as a
/// `SystemTime`; times before 1970 are negative seconds.
fn time(secs: i64, nsecs: i64) -> SystemTime {
    let nanos = Duration::from_nanos(nsecs.clamp(0, 999_999_999) as u64);
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs()) + nanos
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs()) + nanos
    }
}
