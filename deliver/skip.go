package deliver

// SkipRecord tells rr that the record it returned last is not sent: an
// earlier attempt delivered it (the delivery resumes after its
// Checkpoint). Deliverers that resume call it for every record they skip,
// so that the Dispatcher's reader does not charge skipped records to the
// tenant's limits (package limits); other readers ignore it.
func SkipRecord(rr RecordReader) {
	if s, ok := rr.(interface{ SkipRecord() }); ok {
		s.SkipRecord()
	}
}
