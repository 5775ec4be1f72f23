package http1

// SendFileCount returns how many response regions went out through Conn.SendFile.
func SendFileCount() int64 { return sendFileCount.Load() }
