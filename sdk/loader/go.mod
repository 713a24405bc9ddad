module github.com/distcache/distcache/sdk/loader

go 1.22
