// Package roles holds one package per role of the execbox binary (gateway,
// queue, worker, executor, storage, and all of them in one process). This
// package itself only holds the test that keeps each role's dependencies to
// what that role uses.
package roles
