package LocalNsd;
# The Net::DNS resolver the Perl oracles share: only the DNS server at
# 127.0.0.1:PORT (our NSD), no recursion, no search list, one retry,
# TIMEOUT seconds (default 3) per query.
#     use FindBin; use lib $FindBin::Bin; use LocalNsd;
#     my $res = LocalNsd::resolver($port, $timeout);
use strict;
use warnings;
use Net::DNS;

sub resolver {
    my ($port, $timeout) = @_;
    $timeout ||= 3;
    my $res = Net::DNS::Resolver->new(
        nameservers => ['127.0.0.1'],
        port        => $port,
        recurse     => 0,
        retrans     => 1,
        retry       => 1,
        udp_timeout => $timeout,
        tcp_timeout => $timeout,
        searchlist  => [],
        defnames    => 0,
        dnsrch      => 0,
    );
    return $res;
}

1;
