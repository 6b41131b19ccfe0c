package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// input reads answers from standard input: from a terminal with prompts (and no echo for
// secrets), otherwise one line each without prompts, for scripts.
type input struct {
	r        *bufio.Reader
	terminal int // the terminal's file descriptor, or -1
	prompts  io.Writer
}

// input returns the reader of a.stdin, made once so that buffered lines are not lost.
func (a *app) input() *input {
	if a.in == nil {
		a.in = &input{r: bufio.NewReader(a.stdin), terminal: -1, prompts: a.stderr}
		if f, ok := a.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			a.in.terminal = int(f.Fd())
		}
	}
	return a.in
}

// line reads one answer, without blanks around it.
func (in *input) line(prompt string) (string, error) {
	if in.terminal >= 0 {
		fmt.Fprint(in.prompts, prompt)
	}
	return in.read(prompt, strings.TrimSpace)
}

// optional reads one answer that may be empty.
func (in *input) optional(prompt string) (string, error) {
	if in.terminal >= 0 {
		fmt.Fprint(in.prompts, prompt)
	}
	s, err := in.r.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read %s: %w", what(prompt), err)
	}
	return strings.TrimSpace(s), nil
}

// secret reads an answer without echo from a terminal; only the line end is cut off.
func (in *input) secret(prompt string) (string, error) {
	if in.terminal < 0 {
		return in.read(prompt, func(s string) string { return strings.TrimRight(s, "\r\n") })
	}
	fmt.Fprint(in.prompts, prompt)
	b, err := term.ReadPassword(in.terminal)
	fmt.Fprintln(in.prompts)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", what(prompt), err)
	}
	if len(b) == 0 {
		return "", usagef("no %s given", what(prompt))
	}
	return string(b), nil
}

// read reads a line and trims it; an empty answer is a usage error.
func (in *input) read(prompt string, trim func(string) string) (string, error) {
	s, err := in.r.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read %s: %w", what(prompt), err)
	}
	if s = trim(s); s == "" {
		return "", usagef("no %s given", what(prompt))
	}
	return s, nil
}

// what names the answer a prompt asks for: "Password: " asks for "password".
func what(prompt string) string { return strings.ToLower(strings.TrimSuffix(prompt, ": ")) }
