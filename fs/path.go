package fs

import (
	"os"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/blocking"
)

// The functions of this file each run the os function of the same name on
// the blocking pool, starting it when called (see the package
// documentation), and fail with the error it returns: an *os.PathError
// (an *os.LinkError for Rename and Symlink).

// ReadFile returns a future of the contents of the named file, as
// os.ReadFile.
func ReadFile(name string) smol.Future[[]byte] {
	return blocking.Unblock(func() ([]byte, error) { return os.ReadFile(name) })
}

// WriteFile returns a future that writes data to the named file, creating
// it with perm (before umask) if needed and truncating it otherwise, as
// os.WriteFile. data is not copied: do not change it until the future is
// ready, nor after dropping the future, since the write runs to its end
// regardless.
func WriteFile(name string, data []byte, perm os.FileMode) smol.Future[struct{}] {
	return unit(func() error { return os.WriteFile(name, data, perm) })
}

// Open returns a future of the named file opened for reading, as os.Open.
func Open(name string) smol.Future[*File] { return OpenFile(name, os.O_RDONLY, 0) }

// Create returns a future of the named file created or truncated, opened
// for reading and writing, as os.Create.
func Create(name string) smol.Future[*File] {
	return OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

// OpenFile returns a future of the named file opened with flag (os.O_RDONLY,
// os.O_WRONLY, os.O_RDWR, with os.O_APPEND, os.O_CREATE, os.O_EXCL,
// os.O_SYNC, os.O_TRUNC) and, if it is created, perm, as os.OpenFile. A
// future dropped after the open succeeded leaves the *os.File to the
// garbage collector, which closes it.
func OpenFile(name string, flag int, perm os.FileMode) smol.Future[*File] {
	return blocking.Unblock(func() (*File, error) {
		f, err := os.OpenFile(name, flag, perm)
		if err != nil {
			return nil, err
		}
		return NewFile(f), nil
	})
}

// Stat returns a future of the named file's os.FileInfo, following
// symbolic links, as os.Stat.
func Stat(name string) smol.Future[os.FileInfo] {
	return blocking.Unblock(func() (os.FileInfo, error) { return os.Stat(name) })
}

// Lstat returns a future of the named file's os.FileInfo; a symbolic link
// is described, not followed, as os.Lstat.
func Lstat(name string) smol.Future[os.FileInfo] {
	return blocking.Unblock(func() (os.FileInfo, error) { return os.Lstat(name) })
}

// Remove returns a future that removes the named file or empty directory,
// as os.Remove.
func Remove(name string) smol.Future[struct{}] {
	return unit(func() error { return os.Remove(name) })
}

// RemoveAll returns a future that removes path and everything it holds,
// as os.RemoveAll: a path that does not exist is not an error.
func RemoveAll(path string) smol.Future[struct{}] {
	return unit(func() error { return os.RemoveAll(path) })
}

// Rename returns a future that renames (moves) oldpath to newpath, as
// os.Rename.
func Rename(oldpath, newpath string) smol.Future[struct{}] {
	return unit(func() error { return os.Rename(oldpath, newpath) })
}

// Mkdir returns a future that creates a directory with perm (before
// umask), as os.Mkdir.
func Mkdir(name string, perm os.FileMode) smol.Future[struct{}] {
	return unit(func() error { return os.Mkdir(name, perm) })
}

// MkdirAll returns a future that creates a directory and the parents it
// needs, as os.MkdirAll: a directory that exists is not an error.
func MkdirAll(path string, perm os.FileMode) smol.Future[struct{}] {
	return unit(func() error { return os.MkdirAll(path, perm) })
}

// Symlink returns a future that creates newname as a symbolic link to
// oldname, as os.Symlink.
func Symlink(oldname, newname string) smol.Future[struct{}] {
	return unit(func() error { return os.Symlink(oldname, newname) })
}

// Readlink returns a future of the destination of the named symbolic link,
// as os.Readlink.
func Readlink(name string) smol.Future[string] {
	return blocking.Unblock(func() (string, error) { return os.Readlink(name) })
}

// Chmod returns a future that changes the mode of the named file, as
// os.Chmod.
func Chmod(name string, mode os.FileMode) smol.Future[struct{}] {
	return unit(func() error { return os.Chmod(name, mode) })
}

func unit(fn func() error) smol.Future[struct{}] {
	return blocking.Unblock(func() (struct{}, error) { return struct{}{}, fn() })
}
