// Package lazyre holds regular expressions compiled on first use.
package lazyre

import (
	"regexp"
	"sync"
)

// Regexp is a regular expression compiled on first use. gwcurl links every
// auth kind, the gateway and the diagnosis engine into one binary, and a
// package-level regexp.MustCompile runs at every start, whatever the command;
// the diagnosis patterns alone cost close to a millisecond. Compiling on first
// use keeps start-up to the work the command needs.
type Regexp struct {
	src  string
	once sync.Once
	re   *regexp.Regexp
}

// New returns a Regexp that compiles src (which must be valid) when first used.
func New(src string) *Regexp { return &Regexp{src: src} }

func (l *Regexp) get() *regexp.Regexp {
	l.once.Do(func() { l.re = regexp.MustCompile(l.src) })
	return l.re
}

func (l *Regexp) MatchString(s string) bool                  { return l.get().MatchString(s) }
func (l *Regexp) Match(b []byte) bool                        { return l.get().Match(b) }
func (l *Regexp) FindSubmatch(b []byte) [][]byte             { return l.get().FindSubmatch(b) }
func (l *Regexp) FindString(s string) string                 { return l.get().FindString(s) }
func (l *Regexp) FindStringIndex(s string) []int             { return l.get().FindStringIndex(s) }
func (l *Regexp) FindStringSubmatch(s string) []string       { return l.get().FindStringSubmatch(s) }
func (l *Regexp) FindAllString(s string, n int) []string     { return l.get().FindAllString(s, n) }
func (l *Regexp) FindAllStringIndex(s string, n int) [][]int { return l.get().FindAllStringIndex(s, n) }
func (l *Regexp) FindAllStringSubmatch(s string, n int) [][]string {
	return l.get().FindAllStringSubmatch(s, n)
}
func (l *Regexp) FindAllStringSubmatchIndex(s string, n int) [][]int {
	return l.get().FindAllStringSubmatchIndex(s, n)
}
func (l *Regexp) ReplaceAllString(s, repl string) string { return l.get().ReplaceAllString(s, repl) }
func (l *Regexp) ReplaceAllStringFunc(s string, f func(string) string) string {
	return l.get().ReplaceAllStringFunc(s, f)
}
func (l *Regexp) ReplaceAllLiteralString(s, repl string) string {
	return l.get().ReplaceAllLiteralString(s, repl)
}
func (l *Regexp) FindStringSubmatchIndex(s string) []int { return l.get().FindStringSubmatchIndex(s) }
func (l *Regexp) SubexpIndex(name string) int            { return l.get().SubexpIndex(name) }
func (l *Regexp) String() string                         { return l.src }
