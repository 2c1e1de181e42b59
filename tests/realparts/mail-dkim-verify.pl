#!/usr/bin/perl
# Verify a message with Perl Mail::DKIM, resolving key records through the DNS server
# at 127.0.0.1:PORT (our NSD).  Usage: mail-dkim-verify.pl PORT [TIMEOUT] < message
# The message must be CRLF (the Python helper converts LF -> CRLF).
# Prints one JSON object: {"result", "result_detail", "signatures": [{result,
# result_detail, domain, selector, algorithm, identity, canonicalization, body_count}]}
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use LocalNsd;
use JSON::PP;
use Mail::DKIM::DNS;
use Mail::DKIM::Verifier;

my $port    = shift @ARGV or die "usage: $0 PORT [TIMEOUT] < message\n";
my $timeout = shift @ARGV || 3;

my $res = LocalNsd::resolver($port, $timeout);
$res->udppacketsize(4096);    # EDNS0: whole 4096-bit key records over UDP
Mail::DKIM::DNS::resolver($res);

binmode STDIN;
my $dkim = Mail::DKIM::Verifier->new();
while (read(STDIN, my $buf, 65536)) {
    $dkim->PRINT($buf);
}
$dkim->CLOSE;

my @sigs;
foreach my $sig ($dkim->signatures) {
    my $c = join('/', grep { defined } $sig->canonicalization);
    push @sigs, {
        result           => $sig->result,
        result_detail    => $sig->result_detail,
        domain           => $sig->domain,
        selector         => $sig->selector,
        algorithm        => $sig->algorithm,
        identity         => $sig->identity,
        canonicalization => $c,
        body_count       => $sig->body_count,
    };
}
print JSON::PP->new->canonical->encode({
    result        => $dkim->result,
    result_detail => $dkim->result_detail,
    signatures    => \@sigs,
}), "\n";
