package catalogclient

// KeepEvery is Keep with its retry interval chosen by the test.
var KeepEvery = keep
