//go:build !amd64 || purego

package frame

func maskBytes(b []byte, key [4]byte, pos int) { maskGeneric(b, key, pos) }
