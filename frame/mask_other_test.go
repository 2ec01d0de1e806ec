//go:build !amd64 || purego

package frame

func addArchImpls(map[string]func([]byte, [4]byte, int)) {}
