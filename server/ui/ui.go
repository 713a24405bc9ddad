// Package ui serves the node's web console: a page built on the
// TypeScript SDK that calls the node's own API over gRPC-Web to show the
// cluster's members and their ring shares, each group's stats and hit
// ratio over time, the loaded plugins and each group's policy, and a key
// explorer.
//
// The page is built from web/ into dist/ by `npm run build` (in web/).
// dist/ is committed and embedded in the binary, so a fresh clone serves
// the console without Node.js.
package ui

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// Prefix is the URL path the console is served under.
const Prefix = "/ui/"

// contentTypes are the types of the console's files, set here rather than
// taken from the mime package, which reads the system's mime.types.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

//go:embed dist
var embedded embed.FS

// Handler returns the handler of the console's files for requests whose
// path starts with [Prefix]: /ui/ is the page, /ui/app.js its script.
// Every answer says "Cache-Control: no-cache" and carries an ETag (a hash
// of the file), so a browser revalidates cheaply and a new binary's
// console shows at once. Only GET and HEAD are allowed. The handler is
// safe for concurrent use.
func Handler() http.Handler {
	files, err := fs.Sub(embedded, "dist")
	if err != nil {
		panic(err) // fs.Sub fails only on an invalid name; "dist" is valid.
	}
	etags := hashFiles(files)
	fileServer := http.StripPrefix(Prefix, http.FileServerFS(files))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, Prefix)
		if name == "" || strings.HasSuffix(name, "/") {
			name += "index.html"
		}
		if tag, ok := etags[name]; ok {
			w.Header().Set("ETag", tag)
			if typ, ok := contentTypes[path.Ext(name)]; ok {
				w.Header().Set("Content-Type", typ)
			}
		}
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		fileServer.ServeHTTP(w, r)
	})
}

// hashFiles returns a strong ETag for every regular file of files, by
// slash-separated path. A file it cannot read (never, for an embedded
// file system) gets no ETag, which only costs the browser a full fetch.
func hashFiles(files fs.FS) map[string]string {
	etags := map[string]string{}
	_ = fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := fs.ReadFile(files, name)
		if err != nil {
			return nil
		}
		sum := sha256.Sum256(b)
		etags[name] = `"` + hex.EncodeToString(sum[:12]) + `"`
		return nil
	})
	return etags
}
