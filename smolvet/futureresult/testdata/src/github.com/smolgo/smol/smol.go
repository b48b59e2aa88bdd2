// Package smol is a stand-in for the real package, with the shapes the
// analyzer looks for.
package smol

import "time"

type Context struct{}

type Future[T any] interface {
	Poll(cx *Context) (T, bool, error)
}

type Timer struct{}

func (t *Timer) Poll(cx *Context) (time.Time, bool, error) { return time.Time{}, true, nil }

func Sleep(d time.Duration) *Timer { return &Timer{} }

type Task[T any] struct{}

func (t *Task[T]) Poll(cx *Context) (T, bool, error) { var z T; return z, true, nil }
func (t *Task[T]) Detach()                           {}

func SpawnOn[T any](f Future[T]) *Task[T] { return &Task[T]{} }

func Ready[T any](v T) Future[T] { return nil }

func BlockOn[T any](f Future[T]) (T, error) { var z T; return z, nil }
