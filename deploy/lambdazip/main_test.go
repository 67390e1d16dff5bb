package main

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteZip(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "bootstrap")
	want := []byte("#!/bin/sh\necho not really a Go binary\n")
	if err := os.WriteFile(exe, want, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "bootstrap.zip")
	if err := writeZip(out, exe); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}

	zr, err := zip.NewReader(bytes.NewReader(first), int64(len(first)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" {
		t.Fatalf("zip entries = %v, want just bootstrap", zr.File)
	}
	if mode := zr.File[0].Mode(); mode.Perm() != 0o755 || !mode.IsRegular() {
		t.Errorf("bootstrap mode = %v, want -rwxr-xr-x", mode)
	}
	rc, err := zr.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("bootstrap content = %q, want %q", got, want)
	}

	// Same input, same zip: a rebuild must not look like a code change to CloudFormation.
	if err := writeZip(out, exe); err != nil {
		t.Fatal(err)
	}
	second, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Error("two zips of the same executable differ")
	}
}

func TestWriteZipMissingExecutable(t *testing.T) {
	dir := t.TempDir()
	if err := writeZip(filepath.Join(dir, "b.zip"), filepath.Join(dir, "nope")); err == nil {
		t.Fatal("writeZip of a missing file succeeded")
	}
}
